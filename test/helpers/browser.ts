// The real browsers of the UI tests: Debian's chromium and firefox-esr, driven from npm without a browser download.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import puppeteer, { type Browser as FirefoxBrowser } from 'puppeteer-core';

export const FIREFOX_PATH = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Where UI tests save screenshots for a developer to look at (git-ignored; docs/images holds the README's). */
export const SCREENSHOT_DIR = join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  // --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'] });
}

/** Debian's Firefox ESR through puppeteer-core over WebDriver BiDi (Playwright drives only its own patched Firefox). */
export async function launchFirefox(): Promise<FirefoxBrowser> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX_PATH, headless: true });
}

// The house: src/ holds the parts in folders of their own, imports between them point one way, no file imports
// itself back through others, and the service's domain sees only the OpenTelemetry API and what it is handed.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers/service.ts';

const SRC = join(ROOT, 'src');
// Which part may import which (README.md of each folder says the same).
const ALLOWED: Record<string, string[]> = {
  service: ['telemetry', 'receiver', 'shared'],
  telemetry: ['shared'],
  receiver: ['shared'],
  load: ['receiver', 'shared'],
  shared: [],
};

interface Import {
  from: string;
  to: string;
  typeOnly: boolean;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const files = sources(SRC);
const imports: Import[] = files.flatMap((file) =>
  [...readFileSync(file, 'utf8').matchAll(/^import\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm)].map((m) => ({
    from: relative(SRC, file),
    to: m[2]!.startsWith('.') ? relative(SRC, resolve(dirname(file), m[2]!)) : m[2]!,
    typeOnly: m[1] !== undefined,
  })),
);
const part = (path: string) => path.split('/')[0]!;
const local = imports.filter((i) => !i.to.startsWith('..') && i.to.endsWith('.ts'));

test('every part of src/ is a folder with a README saying what it is and what it may import', () => {
  assert.deepEqual(readdirSync(SRC).sort(), Object.keys(ALLOWED).sort());
  for (const [name, allowed] of Object.entries(ALLOWED)) {
    const readme = join(SRC, name, 'README.md');
    assert.ok(existsSync(readme), `src/${name}/README.md`);
    const text = readFileSync(readme, 'utf8');
    for (const other of allowed) assert.match(text, new RegExp(`\`src/${other}/\``), `src/${name}/README.md names src/${other}/ among its imports`);
  }
});

test('imports between parts point one way', () => {
  const wrong = local.filter((i) => part(i.from) !== part(i.to) && !ALLOWED[part(i.from)]!.includes(part(i.to)));
  assert.deepEqual(wrong.map((i) => `${i.from} -> ${i.to}`), []);
});

test('no file imports itself back through other files', () => {
  const edges = new Map<string, string[]>();
  for (const i of local) edges.set(i.from, [...(edges.get(i.from) ?? []), i.to]);
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]): void => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') return void cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
    state.set(file, 'open');
    for (const next of edges.get(file) ?? []) visit(next, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of edges.keys()) visit(file, []);
  assert.deepEqual(cycles, []);
});

test('the domain (routes, model, errors, admission) sees the OpenTelemetry API, the catalogue and the logger, never the SDK or a fast path', () => {
  const domain = imports.filter((i) => part(i.from) === 'service' && !i.from.endsWith('main.ts'));
  const sdk = domain.filter((i) => /^@opentelemetry\/(?!api$|semantic-conventions)/.test(i.to));
  assert.deepEqual(sdk.map((i) => `${i.from} -> ${i.to}`), []);
  const telemetryValues = domain.filter((i) => part(i.to) === 'telemetry' && !i.typeOnly && !['telemetry/catalogue.ts', 'telemetry/logger.ts'].includes(i.to));
  assert.deepEqual(telemetryValues.map((i) => `${i.from} -> ${i.to}`), []);
});

// Folders inside a part: src/receiver/console/ is the receiver's web console (part of the receiver, same arrows), and
// its web/ holds the script served to the browser, which loads nothing but the page's own assets.
test("the console's browser script imports types only: it runs in the browser, where nothing else is served", () => {
  const browser = imports.filter((i) => i.from.startsWith('receiver/console/web/'));
  assert.deepEqual(browser.filter((i) => !i.typeOnly).map((i) => `${i.from} -> ${i.to}`), []);
  assert.ok(files.some((f) => relative(SRC, f) === 'receiver/console/web/console.ts'));
});

// The alerting rules through Debian's promtool: they parse, every alert has `for`, a severity, a summary and a
// runbook section in docs/PROMETHEUS.md, and alerts.test.yaml (each alert firing and silent) passes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { ROOT } from '../helpers/service.ts';

const DIR = join(ROOT, 'k8s/overlays/observability/prometheus');
const promtool = (...args: string[]) => execFileSync('promtool', args, { cwd: DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const groups = (parse(readFileSync(join(DIR, 'alerts.yaml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups;
const alerts = groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);

test('promtool check rules accepts alerts.yaml', () => {
  assert.match(promtool('check', 'rules', 'alerts.yaml'), /SUCCESS: \d+ rules found/);
});

test('the guide\'s three alerts, telemetry loss and service down are there, each with for, severity, summary and a runbook section', () => {
  assert.deepEqual(alerts.map((a) => a.alert).sort(), ['HighErrorRate', 'HighRequestRate', 'PredictionLatencyP99High', 'ServiceDown', 'TelemetryLoss']);
  const doc = readFileSync(join(ROOT, 'docs/PROMETHEUS.md'), 'utf8');
  for (const a of alerts) {
    assert.match(a.for ?? '', /^\d+[smh]$/, `${a.alert} has for`);
    assert.ok(['warning', 'critical'].includes(a.labels?.severity ?? ''), `${a.alert} has a severity`);
    assert.ok((a.annotations?.summary ?? '').length > 10, `${a.alert} has a summary`);
    assert.equal(a.annotations?.runbook_url, `docs/PROMETHEUS.md#${a.alert!.toLowerCase()}`);
    assert.match(doc, new RegExp(`^### ${a.alert}$`, 'm'), `docs/PROMETHEUS.md has a runbook section for ${a.alert}`);
  }
});

test('promtool test rules: every alert fires on its test series and stays silent on the ones below its threshold', () => {
  const tests = parse(readFileSync(join(DIR, 'alerts.test.yaml'), 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
  const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
  for (const a of alerts) {
    assert.ok(cases.some((c) => c.alertname === a.alert && c.exp_alerts.length > 0), `${a.alert} is tested firing`);
    assert.ok(cases.some((c) => c.alertname === a.alert && c.exp_alerts.length === 0), `${a.alert} is tested silent`);
  }
  assert.match(promtool('test', 'rules', 'alerts.test.yaml'), /SUCCESS/);
});

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const DIR = fileURLToPath(new URL('../../src/load/', import.meta.url));
const files = readdirSync(DIR).filter((f) => f.endsWith('.ts'));

/** Every relative module a file imports or re-exports, type-only imports included: a cycle of types is a cycle. */
function imports(file: string): string[] {
  const text = readFileSync(join(DIR, file), 'utf8');
  return [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'(\.{1,2}\/[^']+)'/gms)].map((m) => m[1] as string);
}

const graph = new Map(files.map((f) => [f, imports(f).filter((p) => p.startsWith('./')).map((p) => p.slice(2))]));

test('the import graph is read from the sources, so an empty graph cannot pass the cycle check', () => {
  const edges = [...graph.values()].reduce((n, to) => n + to.length, 0);
  assert.ok(edges >= 10, `only ${edges} imports found`);
  assert.deepEqual(graph.get('slo.ts'), [], 'slo.ts is a leaf');
  assert.ok(graph.get('aggregate.ts')?.includes('slo.ts'));
});

test('imports inside src/load point one way: no module reaches itself again', () => {
  const state = new Map<string, 'open' | 'done'>();
  const visit = (f: string, path: string[]): void => {
    if (state.get(f) === 'done') return;
    assert.notEqual(state.get(f), 'open', `import cycle: ${[...path, f].join(' -> ')}`);
    state.set(f, 'open');
    for (const to of graph.get(f) ?? []) {
      assert.ok(graph.has(to), `${f} imports ./${to}, which is not in src/load`);
      visit(to, [...path, f]);
    }
    state.set(f, 'done');
  };
  for (const f of files) visit(f, []);
});

test('outside its folder the load generator imports the receiver at most, never the service or the telemetry', () => {
  for (const f of files) {
    for (const p of imports(f).filter((p) => p.startsWith('../'))) {
      assert.match(p, /^\.\.\/receiver\//, `${f} imports ${p}`);
    }
  }
});

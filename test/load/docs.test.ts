import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { USAGE } from '../../src/load/args.ts';

// docs/LOAD-GENERATOR.md is the user's page: it must keep up with the flags and exit codes the CLI has.
const doc = readFileSync(new URL('../../docs/LOAD-GENERATOR.md', import.meta.url), 'utf8');
const table = doc.slice(doc.indexOf('## Options'), doc.indexOf('\n## ', doc.indexOf('## Options') + 1));

test('every flag of the usage text has a row in the options table of docs/LOAD-GENERATOR.md', () => {
  const flags = [...new Set([...USAGE.matchAll(/^[ \t]+(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1] as string))];
  assert.ok(flags.length >= 20, `only ${flags.length} flags read from the usage text`);
  const missing = flags.filter((f) => !new RegExp('^\\| [^|]*`' + f + '\\b', 'm').test(table));
  assert.deepEqual(missing, []);
});

test('every exit code the usage text names is explained in docs/LOAD-GENERATOR.md', () => {
  const codes = [...(/Exit codes: (.*)/.exec(USAGE)?.[1] ?? '').matchAll(/(\d+) /g)].map((m) => m[1]);
  assert.deepEqual(codes, ['0', '1', '2', '3']);
  for (const code of codes) assert.match(doc, new RegExp(`^\\| ${code} \\| `, 'm'), `exit code ${code}`);
});

// The receiver `npm start` runs as a child process shares the service's terminal: it writes its debug-exporter
// output in whole lines of at most PIPE_BUF bytes, so that the service's log lines never land inside one of its lines.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PIPE_BUF, writeWholeLines } from '../../src/receiver/embedded.ts';

test('an export is written as chunks of whole lines, each at most PIPE_BUF bytes, that add up to it', () => {
  const line = fc.string({ unit: fc.constantFrom('a', 'é', '→', ' ', ':'), maxLength: 300 }).map((s) => s + '\n');
  fc.assert(
    fc.property(fc.array(line, { maxLength: 400 }), (lines) => {
      const text = lines.join('');
      const chunks: string[] = [];
      writeWholeLines(text, (c) => chunks.push(c));
      assert.equal(chunks.join(''), text);
      for (const c of chunks) {
        assert.ok(c.endsWith('\n'), 'a chunk ends at the end of a line');
        assert.ok(Buffer.byteLength(c) <= PIPE_BUF, `${Buffer.byteLength(c)} bytes`);
      }
      if (Buffer.byteLength(text) > PIPE_BUF) assert.ok(chunks.length > 1);
    }),
  );
});

test('a single line longer than PIPE_BUF is written on its own, whole', () => {
  const long = 'x'.repeat(PIPE_BUF * 2) + '\n';
  const chunks: string[] = [];
  writeWholeLines('a\n' + long + 'b\n', (c) => chunks.push(c));
  assert.deepEqual(chunks, ['a\n', long, 'b\n']);
});

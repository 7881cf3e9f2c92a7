// What the docs tests read in a Markdown file.
import assert from 'node:assert/strict';

export interface FencedBlock {
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  /** The line just above the opening fence (where docs caption output as illustrative). */
  caption: string;
  body: string;
}

/** Every fenced block with its language and the line just above its opening fence; an unclosed block fails. */
export function fencedBlocks(text: string): FencedBlock[] {
  const lines = text.split('\n');
  const found: FencedBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('```')) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
    assert.ok(end > i, `unclosed block at line ${i + 1}`);
    found.push({ line: i + 1, lang: lines[i]!.slice(3).trim(), caption: lines[i - 1] ?? '', body: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return found;
}

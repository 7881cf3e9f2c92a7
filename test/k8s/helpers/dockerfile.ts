// A small Dockerfile reader: enough to check the instructions this project uses, not a full BuildKit parser.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './manifests.ts';

export interface Instruction {
  readonly op: string;
  readonly args: string;
}
export interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** Instructions (comments dropped, `\` continuations joined), grouped by stage, global ARGs resolved in FROM. */
export function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { op: op.toUpperCase(), args: rest };
    if (instruction.op === 'ARG' && stages.length === 0) {
      const [k, v = ''] = rest.split('=');
      args[k!] = v;
    } else if (instruction.op === 'FROM') {
      const [image = '', , name] = rest.replace(/\$\{(\w+)\}/g, (_, k: string) => args[k] ?? '').split(/\s+/);
      stages.push({ from: image, name, instructions: [] });
    } else {
      assert.ok(stages.length > 0, `${op} before FROM`);
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { args, stages };
}

export const readDockerfile = () => parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));

export const instructions = (stage: Stage, op: string): Instruction[] => stage.instructions.filter((i) => i.op === op);

/** The exec-form CMD of a stage as argv. */
export function execCmd(stage: Stage): string[] {
  const cmd = instructions(stage, 'CMD').at(-1);
  assert.ok(cmd, 'no CMD');
  const argv = JSON.parse(cmd.args) as unknown;
  assert.ok(Array.isArray(argv) && argv.every((a) => typeof a === 'string'), 'CMD is not in exec form');
  return argv as string[];
}

/** `ENV k=v k2=v2` of a stage (the `k=v` form only). */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of instructions(stage, 'ENV')) {
    for (const pair of e.args.split(/\s+/)) {
      const eq = pair.indexOf('=');
      assert.ok(eq > 0, `ENV ${e.args}: use the k=v form`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

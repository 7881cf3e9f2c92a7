// The harness of the in-process microbenchmarks (bench-spans.ts): each path runs once to
// warm up (JIT, discarded), then ROUNDS rounds with the paths interleaved, so that a slow moment of the machine
// falls on every path alike. `round` returns the CPU microseconds per unit of one round.

/** CPU microseconds (user + system) per unit of `fn`'s work, `units` units. */
export function cpuUsPer(units: number, fn: () => void): number {
  const cpu0 = process.cpuUsage();
  fn();
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / units;
}

/** Every path warmed up once, then `rounds` interleaved rounds; the samples of each path by name. */
export function interleaved<T>(paths: Record<string, T>, rounds: number, round: (path: T) => number): Record<string, number[]> {
  const results: Record<string, number[]> = Object.fromEntries(Object.keys(paths).map((k) => [k, []]));
  for (const path of Object.values(paths)) round(path);
  for (let r = 0; r < rounds; r++) {
    for (const [name, path] of Object.entries(paths)) results[name]!.push(round(path));
    process.stderr.write(`round ${r + 1}/${rounds} done\n`);
  }
  return results;
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** "median (min-max)", two decimals. */
export const spread = (xs: number[]): string => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;

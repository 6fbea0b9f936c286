/**
 * What the side-by-side load scripts share: a measured rate with its CPU
 * cost, the process CPU clock from procfs, and the warmed, alternating
 * order in which two contenders run.
 *
 * @module
 */

/** A measured loop: operations per second and process CPU microseconds per operation. */
export interface Rate {
  /** Operations per second. */
  qps: number;
  /** Process CPU time (user + system, every thread) per operation, µs. */
  cpu: number;
}

const TICK_US = 1e6 / 100; // USER_HZ: /proc times are in 1/100 s on Linux

/** User + system CPU time of this process (every thread) so far, in microseconds. */
export function cpuNow(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

/**
 * Runs `a` and `b` once each to warm up, then in the given order of `"a"`
 * and `"b"` (just `"ab"`, unwarmed, for a smoke run); each side's best:
 * the highest rate and the lowest CPU per operation of its runs.
 */
export async function alternate(
  a: () => Promise<Rate>,
  b: () => Promise<Rate>,
  order: string,
  smoke: boolean,
): Promise<[Rate, Rate]> {
  const runsA: Rate[] = [], runsB: Rate[] = [];
  if (!smoke) {
    await a();
    await b();
  }
  for (const side of smoke ? "ab" : order) {
    if (side === "a") runsA.push(await a());
    else runsB.push(await b());
  }
  const best = (runs: Rate[]): Rate => ({
    qps: Math.max(...runs.map((r) => r.qps)),
    cpu: Math.min(...runs.map((r) => r.cpu)),
  });
  return [best(runsA), best(runsB)];
}

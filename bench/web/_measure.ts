/**
 * How one test is measured: every server warmed up, then A B B A blocks
 * of each server against the reference, with the peak RSS restarted
 * before the test and the server's CPU use read around every run.
 *
 * @module
 */
import { cpuMs, peakRss, type Peer, resetPeak } from "./_procs.ts";
import { type Load, type Sample, wrk } from "./_wrk.ts";

/** What a test measured for one server. */
export interface Row {
  /** The server. */
  peer: string;
  /** Mean requests per second. */
  rps: number;
  /** Its req/s over the reference's, in the same A B B A blocks (1 for the reference). */
  ratio: number;
  /** Mean median latency, ms. */
  p50: number;
  /** Mean 99th percentile latency, ms. */
  p99: number;
  /** Peak RSS during the test, MiB. */
  rss: number;
  /** The server's CPU use while loaded, % of one core. */
  cpu: number;
  /** Non-2xx answers or socket errors seen. */
  problems: string;
}

interface Run extends Sample {
  cpu: number;
}

async function run(peer: Peer, path: string, seconds: number, load: Load): Promise<Run> {
  const before = cpuMs(peer);
  const t0 = performance.now();
  const sample = await wrk(`http://127.0.0.1:${peer.port}${path}`, seconds, load);
  const cpu = ((cpuMs(peer) - before) / (performance.now() - t0)) * 100;
  return { ...sample, cpu };
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function row(peer: Peer, runs: Run[], ratio: number): Row {
  return {
    peer: peer.name,
    rps: mean(runs.map((r) => r.rps)),
    ratio,
    p50: mean(runs.map((r) => r.p50)),
    p99: mean(runs.map((r) => r.p99)),
    rss: peakRss(peer),
    cpu: mean(runs.map((r) => r.cpu)),
    problems: [...new Set(runs.map((r) => r.problems).filter(Boolean))].join("; "),
  };
}

/**
 * Measures `path` on `ref` and `others`: a smoke run loads each once for
 * `seconds`; a full one warms each up for 2 s, then runs A B B A per other
 * server.
 */
export async function measure(
  ref: Peer,
  others: Peer[],
  path: string,
  load: Load,
  seconds: number,
  smoke: boolean,
): Promise<Row[]> {
  for (const p of [ref, ...others]) resetPeak(p);
  const refRuns: Run[] = [];
  const rows: Row[] = [];
  if (smoke) {
    const a = await run(ref, path, seconds, load);
    refRuns.push(a);
    for (const p of others) {
      const b = await run(p, path, seconds, load);
      rows.push(row(p, [b], b.rps / a.rps));
    }
  } else {
    for (const p of [ref, ...others]) await run(p, path, 2, load);
    for (const p of others) {
      const a1 = await run(ref, path, seconds, load);
      const b1 = await run(p, path, seconds, load);
      const b2 = await run(p, path, seconds, load);
      const a2 = await run(ref, path, seconds, load);
      refRuns.push(a1, a2);
      rows.push(row(p, [b1, b2], (b1.rps + b2.rps) / (a1.rps + a2.rps)));
    }
  }
  return [row(ref, refRuns, 1), ...rows];
}

/**
 * Measures `path` on one server alone: warm-up (unless `smoke`), then
 * `runs` runs.
 */
export async function measureAlone(
  peer: Peer,
  path: string,
  load: Load,
  seconds: number,
  smoke: boolean,
): Promise<Row> {
  resetPeak(peer);
  if (!smoke) await run(peer, path, 2, load);
  const runs: Run[] = [];
  for (let i = 0; i < (smoke ? 1 : 2); i++) runs.push(await run(peer, path, seconds, load));
  return row(peer, runs, 1);
}

/**
 * What the supervisor does about one listening worker's last report: end
 * it (stuck: silent past the limit, or holding a request past its
 * deadline), recycle it (over its heap, RSS or request budget), or
 * nothing.
 *
 * @module
 */
import type { Beat } from "./_worker_protocol.ts";

/** The limits watched. */
export interface Limits {
  requestTimeLimit?: number;
  maxHeapBytes?: number;
  maxRssBytes?: number;
  maxRequestsPerWorker?: number;
}

/** A worker that reports nothing this long (without a time limit) is taken as dead. */
const SILENCE_MS = 30_000;

/** The verdict on a worker: `stop` it at once, `retire` it gracefully, or neither. */
export type Verdict = { stop: string } | { retire: string } | undefined;

function mb(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}

/**
 * Judges a worker whose last report (`beat`, possibly none yet) came
 * `silent` ms ago, reporting every `beatMs`.
 */
export function judge(
  limits: Limits,
  beat: Beat | undefined,
  silent: number,
  beatMs: number,
  now: number,
): Verdict {
  const limit = limits.requestTimeLimit;
  if (silent > (limit === undefined ? SILENCE_MS : limit + 2 * beatMs)) {
    return { stop: `reported nothing for ${silent} ms (a blocked event loop)` };
  }
  if (!beat) return undefined;
  if (limit !== undefined && beat.due !== 0 && beat.due < now) {
    return { stop: `held a request past requestTimeLimit (${limit} ms)` };
  }
  const { maxHeapBytes: heap, maxRssBytes: rss, maxRequestsPerWorker: requests } = limits;
  if (heap !== undefined && beat.heapBytes > heap) {
    return { retire: `heap ${mb(beat.heapBytes)} over maxHeapBytes ${mb(heap)}` };
  }
  if (rss !== undefined && beat.rssBytes > rss) {
    return { retire: `RSS ${mb(beat.rssBytes)} over maxRssBytes ${mb(rss)}` };
  }
  if (requests !== undefined && beat.requests >= requests) {
    return { retire: `served ${beat.requests} requests (maxRequestsPerWorker)` };
  }
  return undefined;
}

/**
 * The pause between accepts after transient accept failures, shared by
 * `Listener`'s iterator and lunet/http's accept loop.
 *
 * @module
 */

const FIRST_BACKOFF = 10;
const MAX_BACKOFF = 1000;

/**
 * The pause before accepting again after `failures` transient accept
 * failures in a row: 10 ms, doubling, at most 1 s.
 *
 * @example
 * ```ts ignore
 * acceptBackoff(1); // 10
 * acceptBackoff(20); // 1000
 * ```
 */
export function acceptBackoff(failures: number): number {
  return Math.min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** Math.max(0, failures - 1));
}

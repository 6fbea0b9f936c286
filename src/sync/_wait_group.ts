/**
 * {@linkcode WaitGroup}: waiting for a counted set of jobs to finish.
 *
 * @module
 */
import type { WaitOptions } from "../_wait.ts";
import { WaitQueue } from "./_wait_queue.ts";

/**
 * Waits for a group of activities to finish.
 *
 * @example
 * ```ts
 * import { sleep, spawn, WaitGroup } from "@lunet/lunet";
 * const wg = new WaitGroup();
 * for (let i = 0; i < 3; i++) {
 *   wg.add();
 *   spawn(async () => {
 *     await sleep(i);
 *     wg.done();
 *   });
 * }
 * await wg.wait();
 * if (wg.count !== 0) throw new Error(`count ${wg.count}`);
 * ```
 */
export class WaitGroup {
  #count = 0;
  #waiters = new WaitQueue<void>();

  /** Outstanding count. */
  get count(): number {
    return this.#count;
  }

  /**
   * Adds `n` to the count; waiters wake when it reaches zero.
   *
   * @param n How much to add (negative to subtract).
   * @throws {RangeError} when `n` is not an integer or the count would go
   * negative.
   */
  add(n = 1): void {
    if (!Number.isInteger(n)) throw new RangeError(`WaitGroup.add: n must be an integer, got ${n}`);
    if (this.#count + n < 0) throw new RangeError("WaitGroup: count would go negative");
    this.#count += n;
    if (this.#count === 0) { while (this.#waiters.size) this.#waiters.shift()!.resolve(); }
  }

  /**
   * Subtracts one from the count.
   *
   * @throws {RangeError} when the count is already zero.
   */
  done(): void {
    this.add(-1);
  }

  /**
   * Waits until the count is zero.
   *
   * @param opts Timeout, deadline and abort signal of the wait.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  wait(opts?: WaitOptions): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return this.#waiters.park("waitgroup wait", opts);
  }
}

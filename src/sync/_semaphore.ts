/**
 * {@linkcode Semaphore}: a bound on how many tasks hold a resource at once.
 *
 * @module
 */
import type { WaitOptions } from "../_wait.ts";
import { WaitQueue } from "./_wait_queue.ts";

/**
 * A counting semaphore with FIFO hand-off.
 *
 * @example Limit concurrency to 2
 * ```ts
 * import { Semaphore, spawn } from "@lunet/lunet";
 * const sem = new Semaphore(2);
 * let running = 0, most = 0;
 * const tasks = [1, 2, 3].map((n) =>
 *   spawn(() =>
 *     sem.withPermit(async () => {
 *       most = Math.max(most, ++running);
 *       await new Promise((r) => setTimeout(r, 5));
 *       running--;
 *       return n * 2;
 *     })
 *   )
 * );
 * const results = await Promise.all(tasks);
 * if (results.join() !== "2,4,6" || most !== 2) throw new Error(`${results} at most ${most}`);
 * ```
 */
export class Semaphore {
  #permits: number;
  #waiters = new WaitQueue<void>();

  /**
   * Creates a semaphore.
   *
   * @param permits Initial number of permits.
   * @throws {RangeError} when `permits` is not a non-negative integer.
   */
  constructor(permits: number) {
    if (!Number.isInteger(permits) || permits < 0) {
      throw new RangeError(`Semaphore: permits must be a non-negative integer, got ${permits}`);
    }
    this.#permits = permits;
  }

  /** Permits free right now. */
  get available(): number {
    return this.#permits;
  }

  /**
   * Takes a permit, waiting for one to be released. Waiters are served in
   * order of arrival.
   *
   * @param opts Timeout, deadline and abort signal of the wait.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  acquire(opts?: WaitOptions): Promise<void> {
    if (this.#permits > 0 && this.#waiters.size === 0) {
      this.#permits--;
      return Promise.resolve();
    }
    return this.#waiters.park("semaphore acquire", opts);
  }

  /** Takes a permit if one is free; returns whether it did. */
  tryAcquire(): boolean {
    if (this.#permits === 0 || this.#waiters.size > 0) return false;
    this.#permits--;
    return true;
  }

  /** Returns a permit, handing it to the longest waiter if there is one. */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next.resolve();
    else this.#permits++;
  }

  /**
   * Runs `fn` holding a permit; the permit is released however `fn` ends.
   *
   * @param fn The work to do under the permit.
   * @param opts Timeout, deadline and abort signal of the wait for a permit.
   * @returns What `fn` returned.
   * @throws {TimeoutError} when no permit comes in time (`fn` does not run).
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  async withPermit<R>(fn: () => R | PromiseLike<R>, opts?: WaitOptions): Promise<R> {
    await this.acquire(opts);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}

/**
 * {@linkcode Mutex}: one task at a time in a critical section.
 *
 * @module
 */
import { Semaphore } from "./_semaphore.ts";
import type { WaitOptions } from "../_wait.ts";

/**
 * Mutual exclusion between tasks, FIFO.
 *
 * @example
 * ```ts
 * import { Mutex } from "@lunet/lunet";
 * const mutex = new Mutex();
 * let counter = 0;
 * await Promise.all([1, 2, 3].map(() =>
 *   mutex.withLock(async () => {
 *     const seen = counter;
 *     await new Promise((r) => setTimeout(r, 1));
 *     counter = seen + 1;
 *   })
 * ));
 * if (counter !== 3) throw new Error(`lost updates: ${counter}`);
 * ```
 */
export class Mutex {
  #sem = new Semaphore(1);

  /** True while some task holds the lock. */
  get locked(): boolean {
    return this.#sem.available === 0;
  }

  /**
   * Waits for the lock. Pair with {@linkcode Mutex.unlock}.
   *
   * @param opts Timeout, deadline and abort signal of the wait.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  lock(opts?: WaitOptions): Promise<void> {
    return this.#sem.acquire(opts);
  }

  /**
   * Releases the lock.
   *
   * @throws {Error} when the mutex is not locked.
   */
  unlock(): void {
    if (!this.locked) throw new Error("Mutex.unlock: the mutex is not locked");
    this.#sem.release();
  }

  /**
   * Runs `fn` holding the lock; the lock is released however `fn` ends.
   *
   * @param fn The work to do under the lock.
   * @param opts Timeout, deadline and abort signal of the wait for the lock.
   * @returns What `fn` returned.
   * @throws {TimeoutError} when the lock does not come in time.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  withLock<R>(fn: () => R | PromiseLike<R>, opts?: WaitOptions): Promise<R> {
    return this.#sem.withPermit(fn, opts);
  }
}

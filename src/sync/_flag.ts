/**
 * {@linkcode Flag}: a settable flag that tasks wait on.
 *
 * @module
 */
import type { WaitOptions } from "../_wait.ts";
import { WaitQueue } from "./_wait_queue.ts";

/**
 * A flag that tasks can wait on: `wait()` returns once `set()` was called,
 * and at once while the flag stays set; `clear()` makes later waits block
 * again.
 *
 * @example
 * ```ts
 * import { Flag, spawn } from "@lunet/lunet";
 * const ready = new Flag();
 * const t = spawn(async () => {
 *   await ready.wait();
 *   return "go";
 * });
 * ready.set();
 * if (await t !== "go") throw new Error("not woken");
 * ```
 */
export class Flag {
  #set = false;
  #waiters = new WaitQueue<void>();

  /** Whether the flag is set. */
  get isSet(): boolean {
    return this.#set;
  }

  /** Sets the flag, waking every waiter. */
  set(): void {
    this.#set = true;
    while (this.#waiters.size) this.#waiters.shift()!.resolve();
  }

  /** Clears the flag; later waits block again. */
  clear(): void {
    this.#set = false;
  }

  /**
   * Waits until the flag is set.
   *
   * @param opts Timeout, deadline and abort signal of the wait.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  wait(opts?: WaitOptions): Promise<void> {
    if (this.#set) return Promise.resolve();
    return this.#waiters.park("flag wait", opts);
  }
}

/**
 * The former name of {@linkcode Flag}, which shadowed the DOM `Event`.
 *
 * @deprecated Use {@linkcode Flag}; this alias goes in the next release.
 * @example
 * ```ts
 * import { Event, Flag } from "@lunet/lunet";
 * if (Event !== Flag) throw new Error("alias");
 * ```
 */
export const Event: typeof Flag = Flag;
/** The former name of {@linkcode Flag}. @deprecated Use {@linkcode Flag}. */
export type Event = Flag;

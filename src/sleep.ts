/**
 * Sleeping and yielding: cancellable, deadline-aware pauses of the
 * current task.
 *
 * @example
 * ```ts
 * import { sleep, TimeoutError, yieldNow } from "@lunet/lunet";
 * await sleep(10);
 * await yieldNow();
 * const err = await sleep(1000, { timeout: 5 }).then(() => undefined, (e) => e);
 * if (!(err instanceof TimeoutError)) throw new Error("expected a timeout");
 * ```
 * @module
 */
import { checkCancelled, park, type WaitOptions } from "./_wait.ts";

/**
 * Sleeps `ms` milliseconds; cancellable and deadline-aware.
 *
 * @param ms How long to sleep, in milliseconds.
 * @param opts Timeout, deadline and abort signal that end it early.
 * @throws {TimeoutError} when the timeout or deadline comes before `ms`.
 * @throws {Cancelled} when the task is cancelled or the signal aborts.
 * @throws {RangeError} when `ms` is negative or not a number.
 *
 * @example Pause a task
 * ```ts
 * import { sleep } from "@lunet/lunet";
 * const start = performance.now();
 * await sleep(10);
 * if (performance.now() - start < 9) throw new Error("woke too early");
 * ```
 *
 * @example A cancelled task wakes at once
 * ```ts
 * import { Cancelled, sleep, spawn } from "@lunet/lunet";
 * const task = spawn(() => sleep(60_000));
 * task.cancel();
 * const err = await task.then(() => undefined, (e) => e);
 * if (!(err instanceof Cancelled)) throw new Error("expected Cancelled");
 * ```
 */
export function sleep(ms: number, opts?: WaitOptions): Promise<void> {
  if (!(ms >= 0)) throw new RangeError(`sleep: ms must be a non-negative number, got ${ms}`);
  return park<void>("sleep", opts, (resolve) => {
    const id = setTimeout(resolve, ms);
    return () => clearTimeout(id);
  });
}

/**
 * Lets other tasks, timers and I/O run, then continues.
 *
 * @throws {Cancelled} when the task was cancelled meanwhile.
 *
 * @example Other tasks run meanwhile
 * ```ts
 * import { spawn, yieldNow } from "@lunet/lunet";
 * let ran = false;
 * spawn(async () => {
 *   await Promise.resolve();
 *   ran = true;
 * });
 * await yieldNow();
 * if (!ran) throw new Error("the other task did not run");
 * ```
 */
export async function yieldNow(): Promise<void> {
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  checkCancelled("yieldNow");
}

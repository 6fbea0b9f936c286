/**
 * Sleeping and yielding: cancellable, deadline-aware pauses of the
 * current task.
 *
 * @example
 * ```ts
 * import { sleep, yieldNow } from "@lunet/lunet";
 * await sleep(10);
 * await yieldNow();
 * ```
 * @module
 */
import { checkCancelled, park, type WaitOptions } from "./_wait.ts";

/**
 * Sleeps `ms` milliseconds; cancellable and deadline-aware.
 *
 * @example
 * ```ts
 * import { sleep } from "@lunet/lunet";
 * await sleep(10);
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
 * Lets other tasks, timers and I/O run, then continues. Throws
 * {@linkcode Cancelled} if the task was cancelled meanwhile.
 *
 * @example
 * ```ts
 * import { yieldNow } from "@lunet/lunet";
 * for (let i = 0; i < 3; i++) await yieldNow();
 * ```
 */
export async function yieldNow(): Promise<void> {
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  checkCancelled("yieldNow");
}

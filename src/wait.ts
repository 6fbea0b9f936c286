/**
 * The low-level wait primitives, for library authors who build their own
 * waits on lunet: {@linkcode park} (suspend until a callback settles the
 * wait, the task is cancelled, or the timeout or deadline passes),
 * {@linkcode race} (wait for a promise under the same rules),
 * {@linkcode budget} and {@linkcode deadlineOf} (one timeout shared by the
 * steps of a call). Application code rarely needs them: every lunet wait
 * already takes {@linkcode WaitOptions}.
 *
 * @example A wait that settles on a timer and unregisters on an early wake
 * ```ts
 * import { park } from "@lunet/lunet/wait";
 * const value = await park<string>("demo", { timeout: 100 }, (resolve) => {
 *   const id = setTimeout(() => resolve("ready"), 5);
 *   return () => clearTimeout(id);
 * });
 * if (value !== "ready") throw new Error(value);
 * ```
 * @module
 */
export {
  budget,
  checkCancelled,
  current,
  deadlineOf,
  park,
  race,
  type WaitOptions,
} from "./_wait.ts";

/**
 * The low-level wait primitives every lunet wait is built on: the
 * current-task slot, cancellation checkpoints, {@linkcode park},
 * {@linkcode race} and the timeout/deadline arithmetic of
 * {@linkcode WaitOptions}.
 *
 * @module
 */
import { contextSlot } from "./_context.ts";
import { Cancelled, LunetError, TimeoutError } from "./errors.ts";
import { offCancel, onCancel, type Task } from "./task.ts";

/**
 * Options accepted by every lunet wait.
 *
 * @example
 * ```ts
 * import { sleep, type WaitOptions } from "@lunet/lunet";
 * const opts: WaitOptions = { timeout: 50 };
 * await sleep(10, opts); // well within the 50 ms
 * ```
 */
export interface WaitOptions {
  /** Give up after this many milliseconds with {@linkcode TimeoutError}. */
  timeout?: number;
  /**
   * Give up at this absolute time (epoch milliseconds, like `Date.now()`)
   * with {@linkcode TimeoutError}; with a `timeout` too, the earlier wins.
   */
  deadline?: number;
  /** Give up with {@linkcode Cancelled} when this signal aborts. */
  signal?: AbortSignal;
}

/**
 * The current-task slot: {@linkcode current} reads it, and a task's body
 * and continuations run with the task in it.
 *
 * @example
 * ```ts
 * import { spawn } from "./task.ts";
 * import { storage } from "./_wait.ts";
 * if (storage.get() !== undefined) throw new Error("no task at top level");
 * const name = await spawn(() => storage.get()?.name, { name: "body" });
 * if (name !== "body") throw new Error("the body runs in its own task");
 * ```
 */
// deno-lint-ignore no-explicit-any
export const storage = contextSlot<Task<any>>();

/**
 * The task the caller runs in, or `undefined` outside any task.
 *
 * @example
 * ```ts
 * import { current, spawn } from "@lunet/lunet";
 * const name = await spawn(() => current()?.name, { name: "me" });
 * if (name !== "me") throw new Error(name);
 * if (current() !== undefined) throw new Error("no task at top level");
 * ```
 */
export function current(): Task<unknown> | undefined {
  return storage.get();
}

/**
 * Throws {@linkcode Cancelled} (or the pending {@linkcode TimeoutError}) when
 * the current task has been cancelled. A cheap checkpoint for loops that do
 * not otherwise wait; outside a task it never throws.
 *
 * @param what The operation, for the error message.
 * @throws {Cancelled} when the current task has been cancelled.
 * @throws {TimeoutError} when it was cancelled by a passed deadline
 * ({@linkcode withTimeout}, {@linkcode withDeadline}).
 *
 * @example A task that awaits only plain promises still stops
 * ```ts
 * import { Cancelled, checkCancelled, spawn } from "@lunet/lunet";
 * const task = spawn(async () => {
 *   await Promise.resolve(); // not a lunet wait: it does not throw
 *   checkCancelled("crunch");
 * });
 * task.cancel();
 * const err = await task.then(() => undefined, (e) => e);
 * if (!(err instanceof Cancelled)) throw new Error("expected Cancelled");
 * if (err.message !== "crunch: cancelled") throw new Error(err.message);
 * ```
 */
export function checkCancelled(what = "operation"): void {
  const task = storage.get();
  if (task?.cancelled) throw cancellationError(what, task.reason);
}

/**
 * The error a wait of `what` gives up with when its task is cancelled for
 * `reason`: the {@linkcode TimeoutError} of a passed deadline, else
 * {@linkcode Cancelled}.
 *
 * @example
 * ```ts
 * import { Cancelled, TimeoutError } from "@lunet/lunet";
 * import { cancellationError } from "./_wait.ts";
 * if (!(cancellationError("read", "bye") instanceof Cancelled)) throw new Error("cancelled");
 * const late = cancellationError("read", new TimeoutError("scope"));
 * if (!(late instanceof TimeoutError)) throw new Error("timeout");
 * ```
 */
export function cancellationError(what: string, reason: unknown): LunetError {
  if (reason instanceof TimeoutError) return new TimeoutError(what, { cause: reason });
  return new Cancelled(what, { cause: reason });
}

/**
 * Parks the caller until `start` settles the wait, the current task is
 * cancelled, `opts.signal` aborts, or the timeout or deadline passes. On an
 * early wake, the function `start` returned runs, so the waiter can take
 * itself off whatever queue it joined. This is the one primitive every
 * lunet wait is built on.
 *
 * @param what The operation, for error messages (`"read 127.0.0.1:80"`).
 * @param opts Timeout, deadline and abort signal of the wait.
 * @param start Called at once with the wait's `resolve` and `reject`; may
 * return a cleanup for an early wake.
 * @returns What `start` resolves it with.
 * @throws {TimeoutError} when the timeout or deadline passes first.
 * @throws {Cancelled} when the task is cancelled or the signal aborts.
 *
 * @example A wait that settles on a timer
 * ```ts
 * import { park } from "@lunet/lunet/wait";
 * const value = await park<string>("demo", { timeout: 100 }, (resolve) => {
 *   const id = setTimeout(() => resolve("ready"), 5);
 *   return () => clearTimeout(id);
 * });
 * if (value !== "ready") throw new Error(value);
 * ```
 *
 * @example An early wake runs the cleanup
 * ```ts
 * import { TimeoutError } from "@lunet/lunet";
 * import { park } from "@lunet/lunet/wait";
 * let cleaned = false;
 * const err = await park("never", { timeout: 5 }, () => () => cleaned = true)
 *   .then(() => undefined, (e) => e);
 * if (!(err instanceof TimeoutError) || !cleaned) throw new Error("expected a cleaned-up timeout");
 * ```
 */
export function park<T>(
  what: string,
  opts: WaitOptions | undefined,
  start: (resolve: (value: T) => void, reject: (err: unknown) => void) => (() => void) | void,
): Promise<T> {
  const task = storage.get();
  if (task?.cancelled) return Promise.reject(cancellationError(what, task.reason));
  if (opts === undefined) {
    return task ? parkInTask(what, task, start) : new Promise<T>(start);
  }
  const signal = opts.signal;
  if (signal?.aborted) return Promise.reject(new Cancelled(what, { cause: signal.reason }));
  const limit = deadlineOf(opts);
  if (limit !== undefined && limit <= Date.now()) return Promise.reject(new TimeoutError(what));
  if (!task && !signal && limit === undefined) return new Promise<T>(start);
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let cleanup: (() => void) | void = undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = () => {
      settled = true;
      if (task) offCancel(task, waker);
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const giveUp = (err: unknown) => {
      if (settled) return;
      finish();
      cleanup?.();
      reject(err);
    };
    const waker = (reason: unknown) => giveUp(cancellationError(what, reason));
    const onAbort = () => giveUp(new Cancelled(what, { cause: signal!.reason }));
    cleanup = start(
      (value) => {
        if (settled) return;
        finish();
        resolve(value);
      },
      (err) => {
        if (settled) return;
        finish();
        reject(err);
      },
    );
    if (settled) return;
    if (task) onCancel(task, waker);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (limit !== undefined) {
      timer = setTimeout(() => giveUp(new TimeoutError(what)), Math.max(0, limit - Date.now()));
    }
  });
}

/** The common case of {@linkcode park}: inside a task, no options. */
function parkInTask<T>(
  what: string,
  // deno-lint-ignore no-explicit-any
  task: Task<any>,
  start: (resolve: (value: T) => void, reject: (err: unknown) => void) => (() => void) | void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const waker = (reason: unknown) => {
      settled = true;
      cleanup?.();
      reject(cancellationError(what, reason));
    };
    const cleanup = start(
      (value) => {
        if (settled) return;
        settled = true;
        offCancel(task, waker);
        resolve(value);
      },
      (err) => {
        if (settled) return;
        settled = true;
        offCancel(task, waker);
        reject(err);
      },
    );
    if (!settled) onCancel(task, waker);
  });
}

/**
 * Waits for `promise` under the current task's cancellation and the given
 * timeout, deadline and signal. An early wake does not stop the underlying
 * operation: the caller keeps the promise and can wait for it again (this is
 * how a timed-out socket read loses no data).
 *
 * @param what The operation, for error messages.
 * @param promise The operation to wait for.
 * @param opts Timeout, deadline and abort signal of the wait.
 * @returns What `promise` resolves with.
 * @throws {TimeoutError} when the timeout or deadline passes first.
 * @throws {Cancelled} when the task is cancelled or the signal aborts.
 *
 * @example A timed-out wait leaves the operation running
 * ```ts
 * import { TimeoutError } from "@lunet/lunet";
 * import { race } from "@lunet/lunet/wait";
 * const slow = new Promise<string>((r) => setTimeout(r, 30, "late"));
 * const err = await race("demo", slow, { timeout: 5 }).then(() => undefined, (e) => e);
 * if (!(err instanceof TimeoutError)) throw new Error("expected a timeout");
 * if (await slow !== "late") throw new Error("the operation went on");
 * ```
 */
export function race<T>(what: string, promise: Promise<T>, opts?: WaitOptions): Promise<T> {
  if (!opts && !storage.get()) return promise;
  let watched = false;
  const waited = park<T>(what, opts, (resolve, reject) => {
    watched = true;
    promise.then(resolve, reject);
  });
  // A wait over before it began (past deadline, aborted signal, cancelled
  // task) never watched the promise: its late failure is still the caller's
  // to collect, but must not surface as unhandled.
  if (!watched) abandon(promise);
  return waited;
}

/**
 * The absolute deadline (epoch ms) implied by a wait's options, or
 * `undefined` when it has none. With both a timeout and a deadline, the
 * earlier one.
 *
 * @param opts The wait's options.
 * @returns The deadline in epoch ms, or `undefined`.
 * @throws {RangeError} when `timeout` is negative or not a number.
 *
 * @example
 * ```ts
 * import { deadlineOf } from "@lunet/lunet/wait";
 * const soon = Date.now() + 1000;
 * if (deadlineOf({ deadline: soon, timeout: 60_000 }) !== soon) throw new Error("earlier wins");
 * if (deadlineOf({ timeout: 1000 })! < soon) throw new Error("timeout counts from now");
 * if (deadlineOf({}) !== undefined) throw new Error("no limit");
 * ```
 */
export function deadlineOf(opts: WaitOptions | undefined): number | undefined {
  if (!opts) return undefined;
  const { timeout, deadline } = opts;
  if (timeout === undefined) return deadline;
  if (!(timeout >= 0)) {
    throw new RangeError(`timeout must be a non-negative number, got ${timeout}`);
  }
  const byTimeout = Date.now() + timeout;
  return deadline === undefined ? byTimeout : Math.min(deadline, byTimeout);
}

/**
 * One budget for a multi-step call: returns `opts` with its timeout turned
 * into an absolute deadline (fixed now), so every step of the call shares
 * it instead of each step restarting the timeout. Options without a
 * timeout are returned as they are.
 *
 * @param opts The call's options.
 * @returns Options with an absolute deadline and the same signal.
 * @throws {RangeError} when `timeout` is negative or not a number.
 *
 * @example
 * ```ts
 * import { sleep } from "@lunet/lunet";
 * import { budget } from "@lunet/lunet/wait";
 * const wait = budget({ timeout: 100 })!; // { deadline: Date.now() + 100 }
 * if (wait.timeout !== undefined || wait.deadline === undefined) throw new Error("a deadline");
 * await sleep(1, wait);
 * await sleep(1, wait); // the same deadline, not a fresh 100 ms
 * ```
 */
export function budget(opts: WaitOptions | undefined): WaitOptions | undefined {
  if (opts?.timeout === undefined) return opts;
  return { deadline: deadlineOf(opts), signal: opts.signal };
}

/**
 * True for a wake by timeout, deadline or cancellation: the wait gave up,
 * while the operation it waited for may still be in flight.
 *
 * @example
 * ```ts
 * import { ClosedError, sleep, TimeoutError } from "@lunet/lunet";
 * import { isEarlyWake } from "./_wait.ts";
 * const err = await sleep(100, { timeout: 1 }).then(() => undefined, (e) => e);
 * if (!(err instanceof TimeoutError) || !isEarlyWake(err)) throw new Error("a timeout");
 * if (isEarlyWake(new ClosedError("read"))) throw new Error("a close is not");
 * ```
 */
export function isEarlyWake(err: unknown): boolean {
  return err instanceof LunetError && (err.code === "timeout" || err.code === "cancelled");
}

/**
 * Leaves `pending` in flight after its caller gave up on it: a late
 * rejection is expected and swallowed instead of becoming unhandled.
 *
 * @example
 * ```ts
 * import { abandon } from "./_wait.ts";
 * const late = new Promise((_, reject) => setTimeout(reject, 1, new Error("late")));
 * abandon(late); // no unhandled rejection when it fails
 * await new Promise((r) => setTimeout(r, 5));
 * ```
 */
export function abandon(pending: Promise<unknown>): void {
  pending.catch(ignore);
}

function ignore(): void {}

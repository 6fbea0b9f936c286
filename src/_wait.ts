/**
 * The low-level wait primitives every lunet wait is built on: the
 * current-task slot, cancellation checkpoints, {@linkcode park},
 * {@linkcode race} and the timeout/deadline arithmetic of
 * {@linkcode WaitOptions}.
 *
 * @module
 */
import { contextSlot } from "./context.ts";
import { Cancelled, LunetError, TimeoutError } from "./errors.ts";
import { offCancel, onCancel, type Task } from "./task.ts";

/**
 * Options accepted by every lunet wait.
 *
 * @example
 * ```ts
 * import { sleep, type WaitOptions } from "@lunet/lunet";
 * const opts: WaitOptions = { timeout: 50 };
 * await sleep(10, opts);
 * ```
 */
export interface WaitOptions {
  /** Give up after this many milliseconds with {@linkcode TimeoutError}. */
  timeout?: number;
  /** Give up at this absolute time (epoch milliseconds, like `Date.now()`). */
  deadline?: number;
  /** Give up with {@linkcode Cancelled} when this signal aborts. */
  signal?: AbortSignal;
}

// deno-lint-ignore no-explicit-any
export const storage = contextSlot<Task<any>>();

/**
 * The task the caller runs in, or `undefined` outside any task.
 *
 * @example
 * ```ts
 * import { current, spawn } from "@lunet/lunet";
 * await spawn(() => console.log(current()?.name), { name: "me" });
 * ```
 */
export function current(): Task<unknown> | undefined {
  return storage.get();
}

/**
 * Throws {@linkcode Cancelled} (or the pending {@linkcode TimeoutError}) when
 * the current task has been cancelled. A cheap checkpoint for loops that do
 * not otherwise wait.
 *
 * @example
 * ```ts
 * import { checkCancelled, spawn } from "@lunet/lunet";
 * const t = spawn(() => {
 *   for (let i = 0; i < 1e6; i++) checkCancelled("loop");
 * });
 * await t;
 * ```
 */
export function checkCancelled(what = "operation"): void {
  const task = storage.get();
  if (task?.cancelled) throw cancellationError(what, task.reason);
}

function cancellationError(what: string, reason: unknown): LunetError {
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
 * @example A wait that settles on a timer
 * ```ts
 * import { park } from "@lunet/lunet/wait";
 * const value = await park<string>("demo", { timeout: 100 }, (resolve) => {
 *   const id = setTimeout(() => resolve("ready"), 5);
 *   return () => clearTimeout(id);
 * });
 * console.log(value); // "ready"
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
 * @example
 * ```ts
 * import { TimeoutError } from "@lunet/lunet";
 * import { race } from "@lunet/lunet/wait";
 * const slow = new Promise((r) => setTimeout(r, 50, "late"));
 * await race("demo", slow, { timeout: 5 }).catch((e) => e instanceof TimeoutError);
 * console.log(await slow); // "late"
 * ```
 */
export function race<T>(what: string, promise: Promise<T>, opts?: WaitOptions): Promise<T> {
  if (!opts && !storage.get()) return promise;
  return park(what, opts, (resolve, reject) => {
    promise.then(resolve, reject);
  });
}

/**
 * The absolute deadline (epoch ms) implied by a wait's options, or
 * `undefined` when it has none.
 *
 * @example
 * ```ts
 * import { deadlineOf } from "@lunet/lunet/wait";
 * console.log(deadlineOf({ timeout: 1000 })! > Date.now()); // true
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
 * @example
 * ```ts
 * import { sleep } from "@lunet/lunet";
 * import { budget } from "@lunet/lunet/wait";
 * const wait = budget({ timeout: 100 }); // { deadline: Date.now() + 100 }
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
 */
export function isEarlyWake(err: unknown): boolean {
  return err instanceof LunetError && (err.code === "timeout" || err.code === "cancelled");
}

/**
 * Leaves `pending` in flight after its caller gave up on it: a late
 * rejection is expected and swallowed instead of becoming unhandled.
 */
export function abandon(pending: Promise<unknown>): void {
  pending.catch(ignore);
}

function ignore(): void {}

/**
 * Tasks: lightweight concurrent activities with cancellation, nurseries
 * (scopes) and shared deadlines. Inside a task, every lunet wait finds the
 * task through AsyncLocalStorage and wakes with {@linkcode Cancelled} when
 * the task is cancelled, without a signal being passed by hand.
 *
 * @example
 * ```ts
 * import { scope, sleep, spawn } from "@lunet/lunet";
 * await scope(async () => {
 *   spawn(() => sleep(10));
 *   spawn(() => sleep(20));
 * }); // returns once both children are done
 * ```
 * @module
 */
import { bindContext, contextSlot } from "./context.ts";
import { Cancelled, ClosedError, LunetError, TimeoutError } from "./errors.ts";
import { traceClose, traceOpen } from "./trace.ts";

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

/**
 * Options for {@linkcode spawn}.
 *
 * @example
 * ```ts
 * import { spawn } from "@lunet/lunet";
 * await spawn(() => 42, { name: "answer" });
 * ```
 */
export interface SpawnOptions {
  /** A name for error reports and traces. */
  name?: string;
  /** Cancel the task when this signal aborts. */
  signal?: AbortSignal;
}

const RUNNING = 0, OK = 1, FAILED = 2;
// deno-lint-ignore no-explicit-any
const storage = contextSlot<Task<any>>();
let nextId = 1;

/**
 * Book-keeping of a nursery: live descendants, the first failure and every
 * later one. Once its body is done and its last descendant has finished,
 * it is closed: nothing can be spawned into it any more.
 */
class Nursery {
  live = 0;
  failed = false;
  closed = false;
  error: unknown = undefined;
  #later: unknown[] | undefined;
  // deno-lint-ignore no-explicit-any
  body: Task<any> | undefined;
  #idle: (() => void) | undefined;
  enter(): void {
    this.live++;
  }
  leave(): void {
    if (--this.live === 0 && this.#idle) {
      this.closed = true;
      this.#idle();
    }
  }
  /**
   * The first failure cancels the body and so everything inside. Of a
   * later cancellation, only the failures it carries are kept.
   */
  fail(err: unknown): void {
    if (this.failed) {
      const later = this.#later ??= [];
      const carried = isCancellation(err) ? suppressedOf(err) : undefined;
      if (carried) later.push(...carried);
      else later.push(err);
      return;
    }
    this.failed = true;
    this.error = err;
    this.body?.cancel(err);
  }
  idle(): Promise<void> {
    if (this.live === 0) {
      this.closed = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#idle = resolve);
  }
  /** What the scope throws: the first failure, carrying the later ones. */
  thrown(): unknown {
    const later = this.#later;
    return later ? carrying(this.error, later, this.body!.name) : this.error;
  }
}

/**
 * `first` with `later` appended to its `suppressedErrors` array, so that
 * `instanceof` and `code` checks still see the first failure; an
 * `AggregateError` of all of them (its cause the first) when `first` is
 * not an object that can take a property.
 */
function carrying(first: unknown, later: unknown[], name: string): unknown {
  if (typeof first !== "object" || first === null || !Object.isExtensible(first)) {
    return new AggregateError([first, ...later], `${name}: ${later.length + 1} failures`, {
      cause: first,
    });
  }
  const held = suppressedOf(first);
  if (held) held.push(...later);
  else {
    Object.defineProperty(first, "suppressedErrors", {
      value: later,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return first;
}

/** The `suppressedErrors` a scope attached to `err`, if any. */
function suppressedOf(err: unknown): unknown[] | undefined {
  const held = (err as { suppressedErrors?: unknown } | null)?.suppressedErrors;
  return Array.isArray(held) ? held : undefined;
}

/** True for the errors a wait throws when its task is cancelled. */
function isCancellation(err: unknown): boolean {
  return err instanceof LunetError && (err.code === "cancelled" || err.code === "timeout");
}

/**
 * True when `err` is a cancellation of a cancelled task and nothing more:
 * not a failure. A cancellation that carries failures (a scope cancelled
 * while its cleanup failed) is one.
 */
function isOnlyCancellation(task: { readonly cancelled: boolean }, err: unknown): boolean {
  return task.cancelled && isCancellation(err) && !suppressedOf(err)?.length;
}

/**
 * A running activity started by {@linkcode spawn}. Await it for its result
 * or error; cancel it to wake its waits with {@linkcode Cancelled}.
 *
 * @example
 * ```ts
 * import { sleep, spawn } from "@lunet/lunet";
 * const task = spawn(async () => {
 *   await sleep(5);
 *   return "done";
 * }, { name: "worker" });
 * console.log(task.id, task.name, await task);
 * ```
 */
export class Task<T> implements PromiseLike<T> {
  /** Unique, increasing id. */
  readonly id: number;
  /** The name given at spawn, or `task-<id>`. */
  readonly name: string;
  #state = RUNNING;
  #value: unknown = undefined;
  #observed = false;
  #waiters: Array<[(v: T) => void, (e: unknown) => void]> | undefined;
  // deno-lint-ignore no-explicit-any
  #parent: Task<any> | undefined;
  // deno-lint-ignore no-explicit-any
  #children: Set<Task<any>> | undefined;
  #waker: ((reason: unknown) => void) | undefined;
  #wakers: Set<(reason: unknown) => void> | undefined;
  #controller: AbortController | undefined;
  #cancelled = false;
  #reason: unknown = undefined;
  #trace: number;
  #onSettled: Set<() => void> | undefined;
  /** @internal the nearest enclosing nursery */
  nursery: Nursery | undefined;
  /** @internal the nursery this task is the body of */
  owns: Nursery | undefined;

  /** @internal use {@linkcode spawn} */
  constructor(
    fn: (task: Task<T>) => T | PromiseLike<T>,
    name: string | undefined,
    // deno-lint-ignore no-explicit-any
    parent: Task<any> | undefined,
    owns?: Nursery,
    shielded?: boolean,
  ) {
    const nursery = parent && (parent.owns ?? parent.nursery);
    if (nursery?.closed) {
      const what = name === undefined ? "spawn" : `spawn "${name}"`;
      throw new ClosedError(`${what} in scope "${nursery.body!.name}"`);
    }
    this.id = nextId++;
    this.name = name ?? `task-${this.id}`;
    this.#trace = traceOpen("task", this.name);
    this.owns = owns;
    if (parent) {
      this.nursery = nursery;
      nursery?.enter();
      if (!shielded) {
        this.#parent = parent;
        (parent.#children ??= new Set()).add(this);
        if (parent.#cancelled) this.cancel(parent.#reason);
      }
    }
    let result: T | PromiseLike<T>;
    try {
      result = storage.run(this, fn, this);
    } catch (err) {
      this.#settle(FAILED, err);
      return;
    }
    if (result !== null && typeof (result as PromiseLike<T>)?.then === "function") {
      (result as PromiseLike<T>).then(
        (value) => this.#settle(OK, value),
        (err) => this.#settle(FAILED, err),
      );
    } else {
      this.#settle(OK, result);
    }
  }

  /** True once the task has returned or thrown. */
  get done(): boolean {
    return this.#state !== RUNNING;
  }

  /** True once {@linkcode Task.cancel} was called (or a parent was cancelled). */
  get cancelled(): boolean {
    return this.#cancelled;
  }

  /** An AbortSignal that aborts when the task is cancelled. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#cancelled) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /**
   * Requests cancellation: every current and future lunet wait of this task
   * and its descendants throws {@linkcode Cancelled} (or the reason itself
   * when it is a {@linkcode TimeoutError}). Idempotent. Listeners on
   * {@linkcode Task.signal} run inside this task, whoever cancels it, so a
   * task they spawn is its child (and belongs to its scope).
   */
  cancel(reason?: unknown): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#reason = reason;
    if (this.#controller) storage.run(this, abort, [this.#controller, reason] as const);
    const first = this.#waker, rest = this.#wakers;
    this.#waker = this.#wakers = undefined;
    first?.(reason);
    if (rest) { for (const wake of rest) wake(reason); }
    if (this.#children) { for (const child of [...this.#children]) child.cancel(reason); }
  }

  /** Resolves with the task's result; rejects with its error. */
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this.#observed = true;
    let p: Promise<T>;
    if (this.#state === OK) p = Promise.resolve(this.#value as T);
    else if (this.#state === FAILED) p = Promise.reject(this.#value);
    else p = new Promise<T>((res, rej) => (this.#waiters ??= []).push([res, rej]));
    return p.then(onFulfilled, onRejected);
  }

  /** Like `Promise.prototype.catch`. */
  catch<R = never>(onRejected: (reason: unknown) => R | PromiseLike<R>): Promise<T | R> {
    return this.then(undefined, onRejected);
  }

  /** Like `Promise.prototype.finally`. */
  finally(onFinally: () => void): Promise<T> {
    return this.then().finally(onFinally);
  }

  /** @internal registers a waker, called once on cancellation. */
  onCancel(wake: (reason: unknown) => void): void {
    if (this.#waker === undefined) this.#waker = wake;
    else (this.#wakers ??= new Set()).add(wake);
  }

  /** @internal removes a waker registered with {@linkcode Task.onCancel}. */
  offCancel(wake: (reason: unknown) => void): void {
    if (this.#waker === wake) this.#waker = undefined;
    else this.#wakers?.delete(wake);
  }

  /**
   * @internal calls `fn` once the task has returned or thrown, without
   * counting as an awaiter; returns a function that unregisters it.
   */
  whenSettled(fn: () => void): () => void {
    if (this.#state !== RUNNING) {
      fn();
      return () => {};
    }
    const set = this.#onSettled ??= new Set();
    set.add(fn);
    return () => set.delete(fn);
  }

  /** @internal the reason given to {@linkcode Task.cancel}. */
  get reason(): unknown {
    return this.#reason;
  }

  #settle(state: number, value: unknown): void {
    this.#state = state;
    this.#value = value;
    traceClose("task", this.#trace);
    if (!this.#children?.size) this.#detach();
    const waiters = this.#waiters;
    this.#waiters = undefined;
    if (waiters) {
      for (const [res, rej] of waiters) state === OK ? res(value as T) : rej(value);
    }
    const onSettled = this.#onSettled;
    this.#onSettled = undefined;
    if (onSettled) { for (const fn of onSettled) fn(); }
    if (state === OK || this.#observed || isOnlyCancellation(this, value)) {
      this.nursery?.leave();
      return;
    }
    // Give the spawner until the next macrotask to await the task.
    setTimeout(() => {
      if (!this.#observed) this.#unobservedFailure(value);
      this.nursery?.leave();
    }, 0);
  }

  // A finished task stays in its parent's tree while it has live children,
  // so cancelling an ancestor still reaches them.
  #detach(): void {
    const parent = this.#parent;
    if (!parent) return;
    this.#parent = undefined;
    parent.#children!.delete(this);
    if (parent.#state !== RUNNING && parent.#children!.size === 0) parent.#detach();
  }

  // Inside a scope the failure is the scope's. Elsewhere it is reported
  // once and the process keeps running (one failed connection must not stop
  // a server), but it will exit non-zero.
  #unobservedFailure(err: unknown): void {
    if (this.nursery) {
      this.nursery.fail(err);
      return;
    }
    const detail = err instanceof Error ? err.stack ?? err.message : String(err);
    console.error(
      `lunet: task "${this.name}" (#${this.id}) failed and nothing awaited it:\n${detail}`,
    );
    if (Deno.exitCode === 0) Deno.exitCode = 1;
  }
}

function abort([controller, reason]: readonly [AbortController, unknown]): void {
  controller.abort(reason);
}

/**
 * Starts `fn` as a task at once (it runs until its first wait before
 * `spawn` returns). A task spawned inside another is its child: cancelling
 * the parent cancels it. The parent is the task whose async context the
 * caller runs in: promise continuations and timers keep the context they
 * were created in; event listeners run in the context of whoever fires the
 * event, so wrap them with {@linkcode bindTask} to keep them in the task
 * that registered them.
 *
 * A task that fails while nobody awaits it fails its enclosing
 * {@linkcode scope}; outside any scope, its failure is reported once on
 * stderr with the task's name and the stack, the process and its other
 * tasks keep running (one failed connection does not stop a server), and
 * the process exits with code 1 when it ends (unless `Deno.exitCode` was
 * set otherwise). Await a task, or run it in a scope, to handle its error.
 *
 * @throws {ClosedError} when the caller's scope has already returned (a
 * timer or bound callback firing late): nothing is spawned into it.
 * @example
 * ```ts
 * import { sleep, spawn } from "@lunet/lunet";
 * const t = spawn(async () => {
 *   await sleep(10);
 *   return 1 + 1;
 * });
 * console.log(await t); // 2
 * ```
 */
export function spawn<T>(
  fn: (task: Task<T>) => T | PromiseLike<T>,
  opts?: SpawnOptions,
): Task<T> {
  const task = new Task(fn, opts?.name, storage.get());
  const signal = opts?.signal;
  if (signal) {
    if (signal.aborted) task.cancel(signal.reason);
    else {
      const onAbort = () => task.cancel(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      task.whenSettled(() => signal.removeEventListener("abort", onAbort));
    }
  }
  return task;
}

/**
 * Returns `fn` bound to the caller's async context, the current task among
 * it: however and from wherever `fn` is called later (an AbortSignal or
 * other event listener, a callback of a library that keeps its own queue),
 * it runs as part of that task, so a task it spawns is that task's child
 * and belongs to its scope. Called after that scope has returned, such a
 * spawn throws {@linkcode ClosedError}.
 *
 * @example A listener fired by another task spawns into the scope that registered it
 * ```ts
 * import { bindTask, scope, sleep, spawn } from "@lunet/lunet";
 * const controller = new AbortController();
 * spawn(async () => {
 *   await sleep(1);
 *   controller.abort();
 * });
 * let finished = false;
 * await scope(async () => {
 *   controller.signal.addEventListener("abort", bindTask(() => {
 *     spawn(async () => {
 *       await sleep(10);
 *       finished = true;
 *     });
 *   }));
 *   await sleep(2);
 * });
 * console.log(finished); // true: the scope waited for it
 * ```
 */
export function bindTask<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return bindContext(fn);
}

/**
 * Runs `fn` as a task that the caller's cancellation does not reach, for
 * cleanup that has to wait (close a connection, roll back, flush a log).
 * A wait in a plain `finally` of a cancelled task throws
 * {@linkcode Cancelled}, and JavaScript then drops the error that
 * `finally` was unwinding; under `shield` the cleanup runs to its end and
 * the original error propagates. The shielded task still belongs to the
 * caller's {@linkcode scope} (the scope waits for it) and can be cancelled
 * directly or bounded with {@linkcode withTimeout}.
 *
 * @example Cleanup that survives a cancel and keeps the original error
 * ```ts
 * import { shield, sleep, spawn } from "@lunet/lunet";
 * const task = spawn(async () => {
 *   try {
 *     await sleep(1);
 *     throw new Error("original");
 *   } finally {
 *     await shield(() => sleep(20)); // e.g. a graceful close
 *   }
 * });
 * await sleep(5);
 * task.cancel();
 * const message = await task.then(() => "", (e) => (e as Error).message);
 * console.log(message); // "original"
 * ```
 */
export function shield<T>(fn: () => T | PromiseLike<T>): Task<T> {
  return new Task(fn, "shield", storage.get(), undefined, true);
}

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
 * import { park } from "@lunet/lunet";
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
      task?.offCancel(waker);
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const abandon = (err: unknown) => {
      if (settled) return;
      finish();
      cleanup?.();
      reject(err);
    };
    const waker = (reason: unknown) => abandon(cancellationError(what, reason));
    const onAbort = () => abandon(new Cancelled(what, { cause: signal!.reason }));
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
    task?.onCancel(waker);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (limit !== undefined) {
      timer = setTimeout(() => abandon(new TimeoutError(what)), Math.max(0, limit - Date.now()));
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
        task.offCancel(waker);
        resolve(value);
      },
      (err) => {
        if (settled) return;
        settled = true;
        task.offCancel(waker);
        reject(err);
      },
    );
    if (!settled) task.onCancel(waker);
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
 * import { race, TimeoutError } from "@lunet/lunet";
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
 * import { deadlineOf } from "@lunet/lunet";
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
 * import { budget, sleep } from "@lunet/lunet";
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

/**
 * Runs `fn` as a nursery: tasks spawned inside it (at any depth) belong to
 * it, and `scope` returns only when all of them are done. The first
 * failure — of `fn` or of a task nobody awaits — cancels everything else in
 * the scope and is thrown once they have finished. Nothing outlives it:
 * once the scope has returned, spawning into it throws
 * {@linkcode ClosedError}.
 *
 * No failure is dropped. A failure that is not the cancellation itself
 * (typically a cleanup that throws while the scope cancels it) is appended
 * to the `suppressedErrors` array of the first failure, which is thrown
 * unchanged: `err instanceof TimeoutError`, `err.code` and identity checks
 * keep seeing the first failure, and `err.suppressedErrors` lists the
 * later ones. A first failure that cannot take that property (a thrown
 * string, a frozen object) is thrown as an `AggregateError` of all of them
 * whose `cause` is the first.
 *
 * @example
 * ```ts
 * import { scope, sleep, spawn } from "@lunet/lunet";
 * const results: number[] = [];
 * await scope(() => {
 *   for (const ms of [15, 5, 10]) spawn(async () => {
 *     await sleep(ms);
 *     results.push(ms);
 *   });
 * });
 * console.log(results); // [5, 10, 15]
 * ```
 */
export function scope<T>(fn: () => T | PromiseLike<T>, opts?: SpawnOptions): Promise<T> {
  return runNursery(fn, opts?.name ?? "scope", undefined, opts?.signal);
}

async function runNursery<T>(
  fn: () => T | PromiseLike<T>,
  name: string,
  deadline: number | undefined,
  signal?: AbortSignal,
): Promise<T> {
  const nursery = new Nursery();
  const body = new Task<T>(fn, name, storage.get(), nursery);
  nursery.body = body;
  // A deadline that passes is the scope's failure unless one came first.
  const timer = deadline === undefined ? undefined : setTimeout(() => {
    if (!nursery.failed) nursery.fail(new TimeoutError(name));
  }, Math.max(0, deadline - Date.now()));
  const onAbort = () => body.cancel(signal!.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  let result: T | undefined;
  try {
    result = await body;
  } catch (err) {
    if (!nursery.failed || !isOnlyCancellation(body, err)) nursery.fail(err);
  }
  await nursery.idle();
  clearTimeout(timer);
  signal?.removeEventListener("abort", onAbort);
  if (nursery.failed) throw nursery.thrown();
  return result as T;
}

/**
 * Runs `fn` as a {@linkcode scope} that must finish by `deadline` (epoch
 * ms). When the deadline passes, every wait inside — across all steps and
 * all tasks spawned inside — wakes with {@linkcode TimeoutError}, and
 * `withDeadline` throws `TimeoutError` once they have finished.
 *
 * @example
 * ```ts
 * import { sleep, withDeadline } from "@lunet/lunet";
 * const deadline = Date.now() + 100;
 * await withDeadline(deadline, async () => {
 *   await sleep(5);
 *   await sleep(5);
 * });
 * ```
 */
export function withDeadline<T>(deadline: number, fn: () => T | PromiseLike<T>): Promise<T> {
  if (!Number.isFinite(deadline)) throw new RangeError(`withDeadline: bad deadline ${deadline}`);
  return runNursery(fn, "withDeadline", deadline);
}

/**
 * Gives a multi-step operation one shared budget of `ms` milliseconds; see
 * {@linkcode withDeadline}.
 *
 * @example
 * ```ts
 * import { sleep, TimeoutError, withTimeout } from "@lunet/lunet";
 * try {
 *   await withTimeout(20, async () => {
 *     await sleep(10);
 *     await sleep(10);
 *     await sleep(10); // the budget runs out here
 *   });
 * } catch (err) {
 *   console.log(err instanceof TimeoutError); // true
 * }
 * ```
 */
export function withTimeout<T>(ms: number, fn: () => T | PromiseLike<T>): Promise<T> {
  if (!(ms >= 0)) throw new RangeError(`withTimeout: ms must be a non-negative number, got ${ms}`);
  return runNursery(fn, `withTimeout(${ms} ms)`, Date.now() + ms);
}

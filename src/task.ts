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
import { Callbacks } from "./_callbacks.ts";
import { ClosedError } from "./errors.ts";
import { traceClose, traceOpen } from "./trace.ts";
import { storage } from "./_wait.ts";
import { isOnlyCancellation, type Nursery } from "./scope.ts";

/**
 * Options for {@linkcode spawn}.
 *
 * @example
 * ```ts
 * import { spawn } from "@lunet/lunet";
 * const task = spawn(() => 42, { name: "answer" });
 * if (task.name !== "answer" || await task !== 42) throw new Error("named task");
 * ```
 */
export interface SpawnOptions {
  /**
   * A name for error reports and traces.
   *
   * @default {"task-<id>"}
   */
  name?: string;
  /** Cancel the task when this signal aborts. */
  signal?: AbortSignal;
}

const RUNNING = 0, OK = 1, FAILED = 2;
let nextId = 1;

/** A waker registered on a task, called once with the cancellation reason. */
type Waker = (reason: unknown) => void;

// deno-lint-ignore no-explicit-any
type AnyTask = Task<any>;

let makeTask: <T>(
  fn: (task: Task<T>) => T | PromiseLike<T>,
  name: string | undefined,
  parent: AnyTask | undefined,
  owns?: Nursery,
  shielded?: boolean,
) => Task<T>;
let addWaker: (task: AnyTask, wake: Waker) => void;
let removeWaker: (task: AnyTask, wake: Waker) => void;
let settledHook: (task: AnyTask, fn: () => void) => () => void;

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
 * if (task.done) throw new Error("still sleeping");
 * const result = await task;
 * if (result !== "done" || !task.done || task.name !== "worker") throw new Error(result);
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
  // The first waker on its own (most tasks have one), the others after it.
  #waker: Waker | undefined;
  #wakers: Callbacks<Waker> | undefined;
  #controller: AbortController | undefined;
  #cancelled = false;
  #reason: unknown = undefined;
  #trace: number;
  // The first settle hook on its own, the others after it.
  #settledHook: (() => void) | undefined;
  #onSettled: Callbacks<(none: void) => void> | undefined;
  /** The nearest enclosing nursery. */
  #nursery: Nursery | undefined;
  /** The nursery this task is the body of. */
  #owns: Nursery | undefined;

  static {
    makeTask = (fn, name, parent, owns, shielded) => new Task(fn, name, parent, owns, shielded);
    addWaker = (task, wake) => task.#onCancel(wake);
    removeWaker = (task, wake) => task.#offCancel(wake);
    settledHook = (task, fn) => task.#whenSettled(fn);
  }

  /** @ignore */
  private constructor(
    fn: (task: Task<T>) => T | PromiseLike<T>,
    name: string | undefined,
    parent: AnyTask | undefined,
    owns?: Nursery,
    shielded?: boolean,
  ) {
    const nursery = parent && (parent.#owns ?? parent.#nursery);
    if (nursery?.closed) {
      const what = name === undefined ? "spawn" : `spawn "${name}"`;
      throw new ClosedError(`${what} in scope "${nursery.body!.name}"`);
    }
    this.id = nextId++;
    this.name = name ?? `task-${this.id}`;
    this.#trace = traceOpen("task", this.name);
    this.#owns = owns;
    if (parent) {
      this.#nursery = nursery;
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
   *
   * @param reason Why; kept as {@linkcode Task.reason} and as the `cause`
   * of the `Cancelled` errors.
   *
   * @example
   * ```ts
   * import { Cancelled, sleep, spawn } from "@lunet/lunet";
   * const task = spawn(() => sleep(60_000));
   * task.cancel("shutting down");
   * const err = await task.then(() => undefined, (e) => e);
   * if (!(err instanceof Cancelled) || err.cause !== "shutting down") throw err;
   * if (!task.cancelled || task.reason !== "shutting down") throw new Error("state");
   * ```
   */
  cancel(reason?: unknown): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#reason = reason;
    if (this.#controller) storage.run(this, abort, [this.#controller, reason] as const);
    const first = this.#waker, rest = this.#wakers;
    this.#waker = this.#wakers = undefined;
    first?.(reason);
    rest?.call(reason);
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

  #onCancel(wake: Waker): void {
    if (this.#waker === undefined) this.#waker = wake;
    else (this.#wakers ??= new Callbacks()).add(wake);
  }

  #offCancel(wake: Waker): void {
    if (this.#waker === wake) this.#waker = undefined;
    else this.#wakers?.delete(wake);
  }

  #whenSettled(fn: () => void): () => void {
    if (this.#state !== RUNNING) {
      fn();
      return () => {};
    }
    if (this.#settledHook === undefined && this.#onSettled === undefined) {
      this.#settledHook = fn;
    } else (this.#onSettled ??= new Callbacks()).add(fn);
    return () => this.#offSettled(fn);
  }

  #offSettled(fn: () => void): void {
    if (this.#settledHook === fn) this.#settledHook = undefined;
    else this.#onSettled?.delete(fn);
  }

  /** The reason given to {@linkcode Task.cancel} (`undefined` until cancelled). */
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
    const hook = this.#settledHook, onSettled = this.#onSettled;
    this.#settledHook = this.#onSettled = undefined;
    hook?.();
    onSettled?.call(undefined);
    if (state === OK || this.#observed || isOnlyCancellation(this, value)) {
      this.#nursery?.leave();
      return;
    }
    // Give the spawner until the next macrotask to await the task.
    setTimeout(() => {
      if (!this.#observed) this.#unobservedFailure(value);
      this.#nursery?.leave();
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
    if (this.#nursery) {
      this.#nursery.fail(err);
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
 *
 * @param fn The task's body; it gets its own {@linkcode Task}.
 * @param opts A name, and a signal that cancels the task.
 * @returns The running task: await it for `fn`'s result or error.
 *
 * @example Await a result
 * ```ts
 * import { sleep, spawn } from "@lunet/lunet";
 * const t = spawn(async () => {
 *   await sleep(10);
 *   return 1 + 1;
 * });
 * if (await t !== 2) throw new Error("expected 2");
 * ```
 *
 * @example Cancelling a parent cancels its children
 * ```ts
 * import { Cancelled, sleep, spawn, type Task } from "@lunet/lunet";
 * let child: Task<void> | undefined;
 * const parent = spawn(async () => {
 *   child = spawn(() => sleep(60_000));
 *   await child;
 * });
 * parent.cancel();
 * const err = await child!.then(() => undefined, (e) => e);
 * await parent.catch(() => {});
 * if (!(err instanceof Cancelled)) throw new Error("the child was not cancelled");
 * ```
 */
export function spawn<T>(
  fn: (task: Task<T>) => T | PromiseLike<T>,
  opts?: SpawnOptions,
): Task<T> {
  const task = makeTask(fn, opts?.name, storage.get());
  const signal = opts?.signal;
  if (signal) {
    if (signal.aborted) task.cancel(signal.reason);
    else {
      const onAbort = () => task.cancel(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      whenSettled(task, () => signal.removeEventListener("abort", onAbort));
    }
  }
  return task;
}

/**
 * Makes a task (the constructor is private): for {@linkcode spawn}, scopes
 * and shields. `owns` is the nursery whose body it is; a `shielded` task is
 * not cancelled with its parent.
 *
 * @throws {ClosedError} when the parent's scope has already returned.
 *
 * @example A shielded child outlives its parent's cancellation
 * ```ts
 * import { sleep, spawn } from "@lunet/lunet";
 * import { current } from "./_wait.ts";
 * import { newTask } from "./task.ts";
 * const parent = spawn(async () => {
 *   const kept = newTask(() => sleep(5), "kept", current(), undefined, true);
 *   current()!.cancel();
 *   if (kept.cancelled) throw new Error("a shielded task is not cancelled with its parent");
 *   await kept.catch(() => {});
 * });
 * await parent.catch(() => {});
 * ```
 */
export function newTask<T>(
  fn: (task: Task<T>) => T | PromiseLike<T>,
  name: string | undefined,
  parent: AnyTask | undefined,
  owns?: Nursery,
  shielded?: boolean,
): Task<T> {
  return makeTask(fn, name, parent, owns, shielded);
}

/**
 * Registers a waker on `task`, called once when it is cancelled.
 *
 * @example
 * ```ts
 * import { sleep, spawn } from "@lunet/lunet";
 * import { offCancel, onCancel } from "./task.ts";
 * const task = spawn(() => sleep(60_000));
 * let reason: unknown;
 * onCancel(task, (r) => reason = r);
 * const unused = () => {
 *   throw new Error("removed wakers are not called");
 * };
 * onCancel(task, unused);
 * offCancel(task, unused);
 * task.cancel("stop");
 * await task.catch(() => {});
 * if (reason !== "stop") throw new Error(String(reason));
 * ```
 */
export function onCancel(task: AnyTask, wake: Waker): void {
  addWaker(task, wake);
}

/**
 * Removes a waker registered with {@linkcode onCancel} (see its example).
 *
 * @example
 * ```ts
 * import { spawn } from "@lunet/lunet";
 * import { offCancel, onCancel } from "./task.ts";
 * const task = spawn(() => new Promise<void>((r) => setTimeout(r, 1)));
 * const wake = () => {
 *   throw new Error("not registered any more");
 * };
 * onCancel(task, wake);
 * offCancel(task, wake);
 * task.cancel();
 * await task;
 * ```
 */
export function offCancel(task: AnyTask, wake: Waker): void {
  removeWaker(task, wake);
}

/**
 * Calls `fn` once `task` has returned or thrown, without counting as an
 * awaiter (a failure is still reported as unobserved); returns a function
 * that unregisters it.
 *
 * @example
 * ```ts
 * import { sleep, spawn } from "@lunet/lunet";
 * import { whenSettled } from "./task.ts";
 * const task = spawn(() => sleep(1));
 * let settled = false;
 * whenSettled(task, () => settled = true);
 * await task;
 * if (!settled) throw new Error("not called");
 * ```
 */
export function whenSettled(task: AnyTask, fn: () => void): () => void {
  return settledHook(task, fn);
}

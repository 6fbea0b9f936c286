/**
 * Nurseries: {@linkcode scope} and the shared budgets
 * {@linkcode withTimeout} and {@linkcode withDeadline}, with
 * {@linkcode shield} and {@linkcode bindTask} for code that must stay in,
 * or out of reach of, its task's cancellation.
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
import { bindContext } from "./_context.ts";
import { TimeoutError } from "./errors.ts";
import { isEarlyWake, storage } from "./_wait.ts";
import { newTask, type SpawnOptions, type Task } from "./task.ts";

/**
 * Book-keeping of a nursery: live descendants, the first failure and every
 * later one. Once its body is done and its last descendant has finished,
 * it is closed: nothing can be spawned into it any more.
 *
 * @example
 * ```ts
 * import { Nursery } from "./scope.ts";
 * const nursery = new Nursery();
 * nursery.enter();
 * const idle = nursery.idle();
 * nursery.leave();
 * await idle;
 * if (!nursery.closed || nursery.failed) throw new Error("closed once idle");
 * ```
 */
export class Nursery {
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
      const carried = isEarlyWake(err) ? suppressedOf(err) : undefined;
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

/**
 * True when `err` is a cancellation of a cancelled task and nothing more:
 * not a failure. A cancellation that carries failures (a scope cancelled
 * while its cleanup failed) is one.
 *
 * @example
 * ```ts
 * import { Cancelled } from "@lunet/lunet";
 * import { isOnlyCancellation } from "./scope.ts";
 * const cancelled = { cancelled: true };
 * if (!isOnlyCancellation(cancelled, new Cancelled("read"))) throw new Error("a cancel");
 * if (isOnlyCancellation(cancelled, new Error("boom"))) throw new Error("a failure");
 * if (isOnlyCancellation({ cancelled: false }, new Cancelled("read"))) throw new Error("unasked");
 * ```
 */
export function isOnlyCancellation(task: { readonly cancelled: boolean }, err: unknown): boolean {
  return task.cancelled && isEarlyWake(err) && !suppressedOf(err)?.length;
}

/**
 * Returns `fn` bound to the caller's async context, the current task among
 * it: however and from wherever `fn` is called later (an AbortSignal or
 * other event listener, a callback of a library that keeps its own queue),
 * it runs as part of that task, so a task it spawns is that task's child
 * and belongs to its scope. Called after that scope has returned, such a
 * spawn throws {@linkcode ClosedError}.
 *
 * @param fn The callback to bind.
 * @returns `fn`, running in the caller's context whoever calls it.
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
 * if (!finished) throw new Error("the scope waits for the listener's task");
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
 * @param fn The cleanup to run.
 * @returns The shielded task; await it for `fn`'s result.
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
 * if (message !== "original") throw new Error(message);
 * ```
 */
export function shield<T>(fn: () => T | PromiseLike<T>): Task<T> {
  return newTask(fn, "shield", storage.get(), undefined, true);
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
 * @param fn The scope's body; tasks it spawns belong to the scope.
 * @param opts A name for the body, and a signal that cancels the scope.
 * @returns What `fn` returned, once every task in the scope is done.
 * @throws The first failure in the scope, carrying any later ones.
 *
 * @example Wait for every child
 * ```ts
 * import { scope, sleep, spawn } from "@lunet/lunet";
 * import { deepStrictEqual } from "node:assert/strict";
 * const results: number[] = [];
 * await scope(() => {
 *   for (const ms of [15, 5, 10]) {
 *     spawn(async () => {
 *       await sleep(ms);
 *       results.push(ms);
 *     });
 *   }
 * });
 * deepStrictEqual(results, [5, 10, 15]);
 * ```
 *
 * @example One failure cancels the rest
 * ```ts
 * import { scope, sleep, spawn } from "@lunet/lunet";
 * let finished = false;
 * const err = await scope(() => {
 *   spawn(async () => {
 *     await sleep(60_000);
 *     finished = true;
 *   });
 *   spawn(() => {
 *     throw new Error("boom");
 *   });
 * }).then(() => undefined, (e) => e);
 * if (!(err instanceof Error) || err.message !== "boom" || finished) throw err;
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
  const body = newTask<T>(fn, name, storage.get(), nursery);
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
 * @param deadline When the work must be done, in epoch ms.
 * @param fn The work; tasks it spawns belong to it.
 * @returns What `fn` returned.
 * @throws {TimeoutError} when the deadline passes first.
 * @throws {RangeError} when `deadline` is not a finite number.
 *
 * @example
 * ```ts
 * import { sleep, withDeadline } from "@lunet/lunet";
 * const deadline = Date.now() + 1000;
 * const result = await withDeadline(deadline, async () => {
 *   await sleep(5);
 *   await sleep(5);
 *   return "in time";
 * });
 * if (result !== "in time") throw new Error(result);
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
 * @param ms The budget, in milliseconds.
 * @param fn The work; tasks it spawns belong to it.
 * @returns What `fn` returned.
 * @throws {TimeoutError} when the budget runs out first.
 * @throws {RangeError} when `ms` is negative or not a number.
 *
 * @example
 * ```ts
 * import { sleep, TimeoutError, withTimeout } from "@lunet/lunet";
 * const err = await withTimeout(20, async () => {
 *   await sleep(10);
 *   await sleep(10);
 *   await sleep(10); // the budget runs out here
 * }).then(() => undefined, (e) => e);
 * if (!(err instanceof TimeoutError)) throw new Error("expected a timeout");
 * ```
 */
export function withTimeout<T>(ms: number, fn: () => T | PromiseLike<T>): Promise<T> {
  if (!(ms >= 0)) throw new RangeError(`withTimeout: ms must be a non-negative number, got ${ms}`);
  return runNursery(fn, `withTimeout(${ms} ms)`, Date.now() + ms);
}

/**
 * Timers for tasks: {@linkcode every} (an interval), {@linkcode after} and
 * {@linkcode at} (one-shot), each returning a {@linkcode Timer} handle with
 * `cancel()`, and {@linkcode now}, a monotonic clock.
 *
 * A timer runs its callback in a task of its own. Created inside a task, it
 * belongs to that task: cancelling the task cancels the timer, and its
 * `done()` rejects with `Cancelled`; once the task has returned or thrown,
 * the timer is cancelled at once (its `done()` resolves). Either way it
 * calls back no more, and a callback that is running wakes with `Cancelled`
 * at its next wait. Outside a task, a timer runs until cancelled. Ticks
 * never overlap: an interval waits for its callback, and ticks missed
 * meanwhile are skipped.
 *
 * @example
 * ```ts
 * import { equal, ok } from "node:assert/strict";
 * import { every, now } from "@lunet/lunet/timer";
 * const start = now();
 * const heartbeat = every(10, (timer) => {
 *   if (timer.ticks === 3) timer.cancel();
 * });
 * await heartbeat.done();
 * equal(heartbeat.ticks, 3);
 * ok(now() - start >= 25); // three ticks 10 ms apart (timers may fire a little early)
 * ```
 * @module
 */
import { LunetError } from "./errors.ts";
import { spawn, type SpawnOptions, type Task, whenSettled } from "./task.ts";
import { sleep } from "./sleep.ts";
import { current } from "./_wait.ts";

export type { SpawnOptions } from "./task.ts";

/**
 * A timer's callback; it receives the timer (to read `ticks` or cancel it)
 * and may return a promise, which the timer waits for.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { after, type TimerCallback } from "@lunet/lunet/timer";
 * const seen: number[] = [];
 * const cb: TimerCallback = (timer) => void seen.push(timer.ticks);
 * await after(1, cb).done();
 * equal(seen.join(), "1");
 * ```
 */
export type TimerCallback = (timer: Timer) => unknown;

/** setTimeout's longest delay; longer waits are slept in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;

let makeTimer: (
  name: string,
  opts: SpawnOptions | undefined,
  body: (tick: () => Promise<void>) => Promise<void>,
  fn: TimerCallback,
) => Timer;

/**
 * Milliseconds on a monotonic clock (not affected by changes of the system
 * time), for measuring durations.
 *
 * @returns Milliseconds since an arbitrary start, with a fractional part.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { now } from "@lunet/lunet/timer";
 * const t0 = now();
 * await new Promise((r) => setTimeout(r, 5));
 * ok(now() - t0 > 0);
 * ```
 */
export function now(): number {
  return performance.now();
}

/**
 * A running timer, from {@linkcode every}, {@linkcode after} or
 * {@linkcode at}. Await {@linkcode Timer.done} to know when it has stopped;
 * cancel it with {@linkcode Timer.cancel} or `using`.
 *
 * @example
 * ```ts
 * import { equal, ok } from "node:assert/strict";
 * import { every, type Timer } from "@lunet/lunet/timer";
 * let timer: Timer;
 * {
 *   using poll = every(20, () => {});
 *   timer = poll;
 *   await new Promise((r) => setTimeout(r, 70));
 * } // the interval is cancelled here
 * await timer.done();
 * equal(timer.active, false);
 * ok(timer.ticks >= 1);
 * ```
 */
export class Timer implements Disposable {
  /** The timer's name (its task's name). */
  readonly name: string;
  #task: Task<void>;
  #ticks = 0;
  #stopping = false;

  static {
    makeTimer = (name, opts, body, fn) => new Timer(name, opts, body, fn);
  }

  /** @ignore */
  private constructor(
    name: string,
    opts: SpawnOptions | undefined,
    body: (tick: () => Promise<void>) => Promise<void>,
    fn: TimerCallback,
  ) {
    this.name = name;
    const tick = async () => {
      this.#ticks++;
      await fn(this);
    };
    this.#task = spawn(async () => {
      try {
        await body(tick);
      } catch (err) {
        if (!(this.#stopping && err instanceof LunetError && err.code === "cancelled")) throw err;
      }
    }, { ...opts, name });
    // A timer dies with the task that created it: a cancelled owner cancels
    // it as its child; an owner that returns or throws cancels it at once.
    const owner = current();
    if (owner) {
      whenSettled(
        this.#task,
        whenSettled(owner, () => {
          if (!owner.cancelled) this.cancel();
        }),
      );
    }
  }

  /** How many times the callback has been called so far. */
  get ticks(): number {
    return this.#ticks;
  }

  /** False once the timer has stopped, for whatever reason. */
  get active(): boolean {
    return !this.#task.done;
  }

  /**
   * Stops the timer: it calls back no more, a callback that is running
   * wakes with `Cancelled` at its next wait, and {@linkcode Timer.done}
   * resolves once it has stopped (it rejects only if the callback then
   * throws an error of its own). Idempotent; does nothing once the timer
   * has stopped.
   */
  cancel(): void {
    if (this.#task.done) return;
    this.#stopping = true;
    this.#task.cancel();
  }

  /**
   * Waits until the timer has stopped.
   *
   * @returns Resolves once the timer has stopped by {@linkcode Timer.cancel},
   * after its one shot, or because its owning task returned or threw.
   * @throws {Cancelled} The owning task was cancelled, or the `signal`
   * given to the timer aborted.
   * @throws The callback's error: a timer stops at its callback's first error.
   */
  done(): Promise<void> {
    return this.#task.then(() => {});
  }

  /** Same as {@linkcode Timer.cancel}, for `using`. */
  [Symbol.dispose](): void {
    this.cancel();
  }
}

function checkDelay(what: string, ms: number, min: number): void {
  if (!(Number.isFinite(ms) && ms >= min)) {
    throw new RangeError(`${what}: ms must be a finite number >= ${min}, got ${ms}`);
  }
}

/** Sleeps until `time` (epoch ms), in steps setTimeout can take. */
async function sleepUntil(time: number): Promise<void> {
  for (let left = time - Date.now(); left > 0; left = time - Date.now()) {
    await sleep(Math.min(left, MAX_DELAY_MS));
  }
}

/**
 * Calls `fn` every `ms` milliseconds, first after `ms`, until cancelled.
 * The schedule is fixed-rate on the monotonic clock; a callback that runs
 * past one or more ticks makes the timer skip them rather than run late
 * calls back to back.
 *
 * @param ms The period in milliseconds, more than 0.
 * @param fn The callback; the next tick waits until it has returned.
 * @param opts A `name` for traces and error reports, and a `signal` that
 * cancels the timer.
 * @returns The running timer.
 * @throws {RangeError} `ms` is not a finite number above 0.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { every } from "@lunet/lunet/timer";
 * const t = every(5, (timer) => {
 *   if (timer.ticks === 2) timer.cancel();
 * });
 * await t.done();
 * equal(t.ticks, 2);
 * ```
 */
export function every(ms: number, fn: TimerCallback, opts?: SpawnOptions): Timer {
  checkDelay("every", ms, Number.MIN_VALUE);
  return makeTimer(opts?.name ?? `every(${ms} ms)`, opts, async (tick) => {
    for (let next = now() + ms;;) {
      await sleep(Math.max(0, next - now()));
      await tick();
      next += ms;
      const late = now() - next;
      if (late >= 0) next += (Math.floor(late / ms) + 1) * ms;
    }
  }, fn);
}

/**
 * Calls `fn` once, after `ms` milliseconds, unless cancelled first.
 *
 * @param ms The delay in milliseconds; 0 fires at once.
 * @param fn The callback.
 * @param opts A `name` for traces and error reports, and a `signal` that
 * cancels the timer.
 * @returns The running timer.
 * @throws {RangeError} `ms` is not a finite number, or is negative.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { after } from "@lunet/lunet/timer";
 * let fired = 0;
 * const t = after(5, () => void fired++);
 * await t.done();
 * equal(fired, 1);
 * ```
 */
export function after(ms: number, fn: TimerCallback, opts?: SpawnOptions): Timer {
  checkDelay("after", ms, 0);
  return at(Date.now() + ms, fn, { ...opts, name: opts?.name ?? `after(${ms} ms)` });
}

/**
 * Calls `fn` once at `time` — epoch milliseconds (like `Date.now()` and
 * the `deadline` of waits) or a `Date` — unless cancelled first. A time in
 * the past fires at once. Waits longer than setTimeout can take are slept
 * in steps, so a far time does not fire early.
 *
 * @param time When to fire: epoch milliseconds or a `Date`.
 * @param fn The callback.
 * @param opts A `name` for traces and error reports, and a `signal` that
 * cancels the timer.
 * @returns The running timer.
 * @throws {RangeError} `time` is not a finite time (`NaN`, an invalid `Date`).
 * @throws {TypeError} `time` is neither a number nor a `Date`.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { at } from "@lunet/lunet/timer";
 * const when = Date.now() + 5;
 * let firedAt = 0;
 * await at(new Date(when), () => void (firedAt = Date.now())).done();
 * ok(firedAt >= when);
 * ```
 */
export function at(time: number | Date, fn: TimerCallback, opts?: SpawnOptions): Timer {
  if (typeof time !== "number" && !(time instanceof Date)) {
    throw new TypeError(`at: time must be a number (epoch ms) or a Date, got ${typeof time}`);
  }
  const when = typeof time === "number" ? time : time.getTime();
  if (!Number.isFinite(when)) throw new RangeError(`at: bad time ${time}`);
  return makeTimer(opts?.name ?? `at(${new Date(when).toISOString()})`, opts, async (tick) => {
    await sleepUntil(when);
    await tick();
  }, fn);
}

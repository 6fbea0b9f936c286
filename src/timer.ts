/**
 * Timers for tasks: {@linkcode every} (an interval), {@linkcode after} and
 * {@linkcode at} (one-shot), each returning a {@linkcode Timer} handle with
 * `cancel()`, and {@linkcode now}, a monotonic clock.
 *
 * A timer runs its callback in a task of its own. Created inside a task, it
 * belongs to that task: cancelling the task cancels the timer (a running
 * callback wakes with `Cancelled`), and once the task has finished the
 * timer stops at its next tick instead of calling back. Outside a task, a
 * timer runs until cancelled. Ticks never overlap: an interval waits for
 * its callback, and ticks missed meanwhile are skipped.
 *
 * @example
 * ```ts
 * import { every, now } from "@lunet/lunet/timer";
 * const start = now();
 * const heartbeat = every(10, (timer) => {
 *   console.log(`tick ${timer.ticks} at ${(now() - start).toFixed(0)} ms`);
 *   if (timer.ticks === 3) timer.cancel();
 * });
 * await heartbeat.done();
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
 * import { after, type TimerCallback } from "@lunet/lunet/timer";
 * const cb: TimerCallback = (timer) => console.log("fired", timer.ticks);
 * await after(1, cb).done();
 * ```
 */
export type TimerCallback = (timer: Timer) => unknown;

/** setTimeout's longest delay; longer waits are slept in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * Milliseconds on a monotonic clock (not affected by changes of the system
 * time), for measuring durations.
 *
 * @example
 * ```ts
 * import { now } from "@lunet/lunet/timer";
 * const t0 = now();
 * await new Promise((r) => setTimeout(r, 5));
 * console.log(now() - t0 >= 0); // true
 * ```
 */
export function now(): number {
  return performance.now();
}

/**
 * A running timer. Await {@linkcode Timer.done} to know when it has
 * stopped; cancel it with {@linkcode Timer.cancel} or `using`.
 *
 * @example
 * ```ts
 * import { every } from "@lunet/lunet/timer";
 * {
 *   using poll = every(50, () => console.log("poll"));
 *   await new Promise((r) => setTimeout(r, 120));
 * } // the interval is cancelled here
 * ```
 */
export class Timer implements Disposable {
  /** The timer's name (its task's name). */
  readonly name: string;
  #task: Task<void>;
  #ticks = 0;
  #stopping = false;

  /** @internal use {@linkcode every}, {@linkcode after} or {@linkcode at} */
  constructor(
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
    // it as its child; an owner that returns stops it.
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
   * Stops the timer. A callback that is running wakes with `Cancelled` at
   * its next wait. Idempotent.
   */
  cancel(): void {
    if (this.#task.done) return;
    this.#stopping = true;
    this.#task.cancel();
  }

  /**
   * Resolves once the timer has stopped: cancelled, fired (one-shot), or
   * its owner gone. Rejects with the callback's error if it threw (a timer
   * stops at its callback's first error), or with `Cancelled` when the
   * owning task was cancelled.
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
 * @example
 * ```ts
 * import { every } from "@lunet/lunet/timer";
 * const t = every(5, (timer) => {
 *   if (timer.ticks === 2) timer.cancel();
 * });
 * await t.done();
 * console.log(t.ticks); // 2
 * ```
 */
export function every(ms: number, fn: TimerCallback, opts?: SpawnOptions): Timer {
  checkDelay("every", ms, Number.MIN_VALUE);
  return new Timer(opts?.name ?? `every(${ms} ms)`, opts, async (tick) => {
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
 * @example
 * ```ts
 * import { after } from "@lunet/lunet/timer";
 * const t = after(5, () => console.log("fired"));
 * await t.done();
 * ```
 */
export function after(ms: number, fn: TimerCallback, opts?: SpawnOptions): Timer {
  checkDelay("after", ms, 0);
  return at(Date.now() + ms, fn, { ...opts, name: opts?.name ?? `after(${ms} ms)` });
}

/**
 * Calls `fn` once at `time` — epoch milliseconds (like `Date.now()` and
 * the `deadline` of waits) or a `Date` — unless cancelled first. A time in
 * the past fires at once.
 *
 * @example
 * ```ts
 * import { at } from "@lunet/lunet/timer";
 * const t = at(new Date(Date.now() + 5), () => console.log("on time"));
 * await t.done();
 * ```
 */
export function at(time: number | Date, fn: TimerCallback, opts?: SpawnOptions): Timer {
  const when = typeof time === "number" ? time : time.getTime();
  if (!Number.isFinite(when)) throw new RangeError(`at: bad time ${time}`);
  return new Timer(opts?.name ?? `at(${new Date(when).toISOString()})`, opts, async (tick) => {
    await sleepUntil(when);
    await tick();
  }, fn);
}

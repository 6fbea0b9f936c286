/**
 * Interval handlers (`every(ms, fn)`): the set one thread runs. In an HTTP
 * worker the set belongs to the worker's runtime, which runs the handlers
 * registered for one worker only while the supervisor names it the
 * leader, and stops all of them at shutdown. Elsewhere the thread's own
 * set runs every handler until it is cancelled or lunet/signal's
 * `shutdown()` runs.
 *
 * @module
 */
import { spawn, type Task } from "../task.ts";
import { onShutdown } from "../signal.ts";

/** One registered handler. */
interface Entry {
  ms: number;
  fn: () => unknown;
  each: boolean;
  name: string;
  timer: ReturnType<typeof setInterval> | undefined;
  task: Task<unknown> | undefined;
  cancelled: boolean;
}

/**
 * A handle on one interval handler (what `every()` returns).
 *
 * @example
 * ```ts
 * import { every, type IntervalHandle } from "@lunet/lunet/http";
 * const job: IntervalHandle = every(1000, () => {});
 * job.cancel();
 * ```
 */
export interface IntervalHandle {
  /** Stops it (a run in progress is cancelled). */
  cancel(): void;
}

/** The interval handlers of one thread. */
export class IntervalSet {
  #entries = new Set<Entry>();
  #leader: boolean;
  #running: boolean;
  #report: (message: string) => void;

  constructor(opts: { leader: boolean; running: boolean; report: (message: string) => void }) {
    this.#leader = opts.leader;
    this.#running = opts.running;
    this.#report = opts.report;
  }

  add(ms: number, fn: () => unknown, each: boolean, name: string): IntervalHandle {
    const entry: Entry = {
      ms,
      fn,
      each,
      name,
      timer: undefined,
      task: undefined,
      cancelled: false,
    };
    this.#entries.add(entry);
    this.#arm(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
        this.#entries.delete(entry);
        this.#disarm(entry);
      },
    };
  }

  /** Starts (or stops) the handlers that run in one worker only. */
  setLeader(on: boolean): void {
    this.#leader = on;
    for (const e of this.#entries) if (!e.each) on ? this.#arm(e) : this.#disarm(e);
  }

  /** Starts every handler this thread should run. */
  start(): void {
    this.#running = true;
    for (const e of this.#entries) this.#arm(e);
  }

  /** Stops every handler; runs in progress are cancelled. */
  stop(): void {
    this.#running = false;
    for (const e of this.#entries) this.#disarm(e);
  }

  /** Stops and forgets every handler. */
  clear(): void {
    this.stop();
    for (const e of this.#entries) e.cancelled = true;
    this.#entries.clear();
  }

  #arm(e: Entry): void {
    if (e.timer !== undefined || !this.#running || (!e.each && !this.#leader)) return;
    e.timer = setInterval(() => this.#run(e), e.ms);
  }

  #disarm(e: Entry): void {
    clearInterval(e.timer);
    e.timer = undefined;
    e.task?.cancel();
  }

  #run(e: Entry): void {
    if (e.task !== undefined) return; // the last run is still going: skip this tick
    const task = spawn(() => e.fn(), { name: `every ${e.ms} ms ${e.name}` });
    e.task = task;
    task.then(
      () => {},
      (err) => {
        if (e.cancelled || e.timer === undefined) return;
        const message = err instanceof Error ? err.stack ?? err.message : String(err);
        this.#report(`interval handler ${e.name} failed: ${message}`);
      },
    ).finally(() => e.task = undefined);
  }
}

let local: IntervalSet | undefined;
let host: IntervalSet | undefined;

/** The set `every()` registers with in this thread. */
export function intervalHost(): IntervalSet {
  if (host) return host;
  local ??= new IntervalSet({
    leader: true,
    running: true,
    report: (message) => console.error(`lunet/http: ${message}`),
  });
  const set = local;
  onShutdown(() => set.clear());
  return host = set;
}

/** Makes `set` the one `every()` registers with in this thread (an HTTP worker's). */
export function installIntervals(set: IntervalSet): void {
  host = set;
}

/**
 * Cancels the handlers registered in this thread before it started
 * supervising workers: the app module registers them at its top level,
 * and they belong to the workers that import it.
 */
export function handOverIntervals(): void {
  if (host === local) local?.clear();
}

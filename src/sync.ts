/**
 * Synchronisation between tasks: {@linkcode Channel}, {@linkcode Mutex},
 * {@linkcode Semaphore}, {@linkcode WaitGroup} and {@linkcode Flag}. Every
 * wait is cancellable with its task and accepts `{ timeout, deadline,
 * signal }`.
 *
 * @example A worker draining a job queue
 * ```ts
 * import { Channel, spawn } from "@lunet/lunet";
 * import { deepStrictEqual } from "node:assert/strict";
 * const jobs = new Channel<string>(8);
 * const done: string[] = [];
 * const worker = spawn(async () => {
 *   for await (const job of jobs) done.push(job);
 * });
 * await jobs.send("a");
 * await jobs.send("b");
 * jobs.close();
 * await worker;
 * deepStrictEqual(done, ["a", "b"]);
 * ```
 * @module
 */
import { ClosedError } from "./errors.ts";
import { park, type WaitOptions } from "./_wait.ts";

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

/** A FIFO of parked waiters; a waiter that gives up removes itself. */
class WaitQueue<T> {
  #items: Array<Waiter<T> & { extra?: unknown }> = [];
  get size(): number {
    return this.#items.length;
  }
  shift(): (Waiter<T> & { extra?: unknown }) | undefined {
    return this.#items.shift();
  }
  park(what: string, opts: WaitOptions | undefined, extra?: unknown): Promise<T> {
    return park<T>(what, opts, (resolve, reject) => {
      const entry = { resolve, reject, extra };
      this.#items.push(entry);
      return () => {
        const i = this.#items.indexOf(entry);
        if (i >= 0) this.#items.splice(i, 1);
      };
    });
  }
  rejectAll(err: () => unknown): void {
    const items = this.#items;
    this.#items = [];
    for (const w of items) w.reject(err());
  }
}

/**
 * A channel between tasks. With capacity 0 (the default) it is unbuffered:
 * `send` waits until a receiver takes the value. With capacity n, `send`
 * waits only while n values are buffered.
 *
 * Operations that can complete at once do so without waiting (and so
 * without a cancellation check); only a wait observes cancellation.
 *
 * Closed-channel semantics: after `close()`, `send` throws
 * {@linkcode ClosedError}; values already buffered can still be received;
 * once they are drained `recv` throws `ClosedError` and async iteration
 * ends. Closing wakes every parked sender and (once drained) receiver with
 * `ClosedError`. Closing twice is harmless.
 *
 * @example Ping-pong
 * ```ts
 * import { Channel, spawn } from "@lunet/lunet";
 * const ping = new Channel<number>(), pong = new Channel<number>();
 * spawn(async () => {
 *   for await (const n of ping) await pong.send(n + 1);
 * });
 * await ping.send(1);
 * if (await pong.recv() !== 2) throw new Error("expected 2");
 * ping.close();
 * ```
 *
 * @example Buffered values survive the close
 * ```ts
 * import { Channel, ClosedError } from "@lunet/lunet";
 * const ch = new Channel<number>(2);
 * await ch.send(1);
 * ch.close();
 * if (await ch.recv() !== 1) throw new Error("the buffered value is still there");
 * const err = await ch.recv().then(() => undefined, (e) => e);
 * if (!(err instanceof ClosedError)) throw new Error("drained: closed");
 * ```
 */
export class Channel<T> implements AsyncIterable<T> {
  /** Buffer size given at construction. */
  readonly capacity: number;
  #buffer: T[] = [];
  #receivers = new WaitQueue<T>();
  #senders = new WaitQueue<void>();
  #closed = false;

  /**
   * Creates a channel.
   *
   * @param capacity How many values may wait in the buffer; 0 (the
   * default) makes every send wait for a receiver.
   * @throws {RangeError} when `capacity` is not a non-negative integer.
   */
  constructor(capacity = 0) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`Channel: capacity must be a non-negative integer, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  /** True after {@linkcode Channel.close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Number of values buffered right now. */
  get length(): number {
    return this.#buffer.length;
  }

  /**
   * Sends `value`, waiting for room (or for a receiver when unbuffered).
   *
   * @param value The value to send.
   * @param opts Timeout, deadline and abort signal of the wait.
   * @throws {ClosedError} when the channel is closed, before or during
   * the wait.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  send(value: T, opts?: WaitOptions): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError("channel send"));
    const receiver = this.#receivers.shift();
    if (receiver) {
      receiver.resolve(value);
      return Promise.resolve();
    }
    if (this.#buffer.length < this.capacity) {
      this.#buffer.push(value);
      return Promise.resolve();
    }
    return this.#senders.park("channel send", opts, value);
  }

  /**
   * Receives the next value, waiting until one is sent.
   *
   * @param opts Timeout, deadline and abort signal of the wait.
   * @returns The next value, in the order sent.
   * @throws {ClosedError} once the channel is closed and drained.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  recv(opts?: WaitOptions): Promise<T> {
    if (this.#buffer.length > 0) {
      const value = this.#buffer.shift()!;
      const sender = this.#senders.shift();
      if (sender) {
        this.#buffer.push(sender.extra as T);
        sender.resolve();
      }
      return Promise.resolve(value);
    }
    const sender = this.#senders.shift();
    if (sender) {
      sender.resolve();
      return Promise.resolve(sender.extra as T);
    }
    if (this.#closed) return Promise.reject(new ClosedError("channel recv"));
    return this.#receivers.park("channel recv", opts);
  }

  /** Closes the channel; see the class notes for what happens to waiters. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#senders.rejectAll(() => new ClosedError("channel send"));
    this.#receivers.rejectAll(() => new ClosedError("channel recv"));
  }

  /** Yields received values until the channel is closed and drained. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      try {
        yield await this.recv();
      } catch (err) {
        if (err instanceof ClosedError && this.#closed && this.#buffer.length === 0) return;
        throw err;
      }
    }
  }
}

/**
 * A counting semaphore with FIFO hand-off.
 *
 * @example Limit concurrency to 2
 * ```ts
 * import { Semaphore, spawn } from "@lunet/lunet";
 * const sem = new Semaphore(2);
 * let running = 0, most = 0;
 * const tasks = [1, 2, 3].map((n) =>
 *   spawn(() =>
 *     sem.withPermit(async () => {
 *       most = Math.max(most, ++running);
 *       await new Promise((r) => setTimeout(r, 5));
 *       running--;
 *       return n * 2;
 *     })
 *   )
 * );
 * const results = await Promise.all(tasks);
 * if (results.join() !== "2,4,6" || most !== 2) throw new Error(`${results} at most ${most}`);
 * ```
 */
export class Semaphore {
  #permits: number;
  #waiters = new WaitQueue<void>();

  /**
   * Creates a semaphore.
   *
   * @param permits Initial number of permits.
   * @throws {RangeError} when `permits` is not a non-negative integer.
   */
  constructor(permits: number) {
    if (!Number.isInteger(permits) || permits < 0) {
      throw new RangeError(`Semaphore: permits must be a non-negative integer, got ${permits}`);
    }
    this.#permits = permits;
  }

  /** Permits free right now. */
  get available(): number {
    return this.#permits;
  }

  /**
   * Takes a permit, waiting for one to be released. Waiters are served in
   * order of arrival.
   *
   * @param opts Timeout, deadline and abort signal of the wait.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  acquire(opts?: WaitOptions): Promise<void> {
    if (this.#permits > 0 && this.#waiters.size === 0) {
      this.#permits--;
      return Promise.resolve();
    }
    return this.#waiters.park("semaphore acquire", opts);
  }

  /** Takes a permit if one is free; returns whether it did. */
  tryAcquire(): boolean {
    if (this.#permits === 0 || this.#waiters.size > 0) return false;
    this.#permits--;
    return true;
  }

  /** Returns a permit, handing it to the longest waiter if there is one. */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next.resolve();
    else this.#permits++;
  }

  /**
   * Runs `fn` holding a permit; the permit is released however `fn` ends.
   *
   * @param fn The work to do under the permit.
   * @param opts Timeout, deadline and abort signal of the wait for a permit.
   * @returns What `fn` returned.
   * @throws {TimeoutError} when no permit comes in time (`fn` does not run).
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  async withPermit<R>(fn: () => R | PromiseLike<R>, opts?: WaitOptions): Promise<R> {
    await this.acquire(opts);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}

/**
 * Mutual exclusion between tasks, FIFO.
 *
 * @example
 * ```ts
 * import { Mutex } from "@lunet/lunet";
 * const mutex = new Mutex();
 * let counter = 0;
 * await Promise.all([1, 2, 3].map(() =>
 *   mutex.withLock(async () => {
 *     const seen = counter;
 *     await new Promise((r) => setTimeout(r, 1));
 *     counter = seen + 1;
 *   })
 * ));
 * if (counter !== 3) throw new Error(`lost updates: ${counter}`);
 * ```
 */
export class Mutex {
  #sem = new Semaphore(1);

  /** True while some task holds the lock. */
  get locked(): boolean {
    return this.#sem.available === 0;
  }

  /**
   * Waits for the lock. Pair with {@linkcode Mutex.unlock}.
   *
   * @param opts Timeout, deadline and abort signal of the wait.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  lock(opts?: WaitOptions): Promise<void> {
    return this.#sem.acquire(opts);
  }

  /**
   * Releases the lock.
   *
   * @throws {Error} when the mutex is not locked.
   */
  unlock(): void {
    if (!this.locked) throw new Error("Mutex.unlock: the mutex is not locked");
    this.#sem.release();
  }

  /**
   * Runs `fn` holding the lock; the lock is released however `fn` ends.
   *
   * @param fn The work to do under the lock.
   * @param opts Timeout, deadline and abort signal of the wait for the lock.
   * @returns What `fn` returned.
   * @throws {TimeoutError} when the lock does not come in time.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  withLock<R>(fn: () => R | PromiseLike<R>, opts?: WaitOptions): Promise<R> {
    return this.#sem.withPermit(fn, opts);
  }
}

/**
 * Waits for a group of activities to finish.
 *
 * @example
 * ```ts
 * import { sleep, spawn, WaitGroup } from "@lunet/lunet";
 * const wg = new WaitGroup();
 * for (let i = 0; i < 3; i++) {
 *   wg.add();
 *   spawn(async () => {
 *     await sleep(i);
 *     wg.done();
 *   });
 * }
 * await wg.wait();
 * if (wg.count !== 0) throw new Error(`count ${wg.count}`);
 * ```
 */
export class WaitGroup {
  #count = 0;
  #waiters = new WaitQueue<void>();

  /** Outstanding count. */
  get count(): number {
    return this.#count;
  }

  /**
   * Adds `n` to the count; waiters wake when it reaches zero.
   *
   * @param n How much to add (negative to subtract).
   * @throws {RangeError} when `n` is not an integer or the count would go
   * negative.
   */
  add(n = 1): void {
    if (!Number.isInteger(n)) throw new RangeError(`WaitGroup.add: n must be an integer, got ${n}`);
    if (this.#count + n < 0) throw new RangeError("WaitGroup: count would go negative");
    this.#count += n;
    if (this.#count === 0) { while (this.#waiters.size) this.#waiters.shift()!.resolve(); }
  }

  /**
   * Subtracts one from the count.
   *
   * @throws {RangeError} when the count is already zero.
   */
  done(): void {
    this.add(-1);
  }

  /**
   * Waits until the count is zero.
   *
   * @param opts Timeout, deadline and abort signal of the wait.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  wait(opts?: WaitOptions): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return this.#waiters.park("waitgroup wait", opts);
  }
}

/**
 * A flag that tasks can wait on: `wait()` returns once `set()` was called,
 * and at once while the flag stays set; `clear()` makes later waits block
 * again.
 *
 * @example
 * ```ts
 * import { Flag, spawn } from "@lunet/lunet";
 * const ready = new Flag();
 * const t = spawn(async () => {
 *   await ready.wait();
 *   return "go";
 * });
 * ready.set();
 * if (await t !== "go") throw new Error("not woken");
 * ```
 */
export class Flag {
  #set = false;
  #waiters = new WaitQueue<void>();

  /** Whether the flag is set. */
  get isSet(): boolean {
    return this.#set;
  }

  /** Sets the flag, waking every waiter. */
  set(): void {
    this.#set = true;
    while (this.#waiters.size) this.#waiters.shift()!.resolve();
  }

  /** Clears the flag; later waits block again. */
  clear(): void {
    this.#set = false;
  }

  /**
   * Waits until the flag is set.
   *
   * @param opts Timeout, deadline and abort signal of the wait.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  wait(opts?: WaitOptions): Promise<void> {
    if (this.#set) return Promise.resolve();
    return this.#waiters.park("flag wait", opts);
  }
}

/**
 * The former name of {@linkcode Flag}, which shadowed the DOM `Event`.
 *
 * @deprecated Use {@linkcode Flag}; this alias goes in the next release.
 * @example
 * ```ts
 * import { Event, Flag } from "@lunet/lunet";
 * if (Event !== Flag) throw new Error("alias");
 * ```
 */
export const Event: typeof Flag = Flag;
/** The former name of {@linkcode Flag}. @deprecated Use {@linkcode Flag}. */
export type Event = Flag;

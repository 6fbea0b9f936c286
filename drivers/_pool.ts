/**
 * The bounded connection pool under every driver.
 *
 * @module
 */
import { ClosedError } from "../src/errors.ts";
import {
  abandon,
  checkCancelled,
  isEarlyWake,
  park,
  race,
  type WaitOptions,
} from "../src/_wait.ts";

/**
 * A bounded pool of connections. Acquirers wait in FIFO order (honouring
 * cancellation and `{ timeout, deadline, signal }`); a connection that an
 * error broke is closed instead of reused, and its slot opens a fresh one.
 *
 * A connection is taken either exclusively (a transaction, or a statement
 * that may write) or shared (a read): up to `pipeline` shared statements
 * may be in flight on one connection at once, for drivers that pipeline. Shared takers prefer an idle
 * connection, then a new one while below `max`, then the least loaded. An
 * exclusive taker that waits gets the first connection whose statements
 * have all ended, and reserves the least loaded shared one meanwhile (it
 * takes no new statements), so it is not starved while shared statements
 * go on on the others; without pipelining, shared takers queue behind a
 * waiting exclusive one. With `idleTimeout`, a connection
 * left idle that long is closed (the most recently used is handed out
 * first, so the spare ones age out) and opened again on demand.
 *
 * @example
 * ```ts ignore
 * const pool = new Pool("demo", openConn, closeConn, { max: 4 });
 * const c = await pool.acquire({ timeout: 1000 });
 * pool.release(c);
 * await pool.close();
 * ```
 */
export class Pool<C> {
  #idle: C[] = [];
  // When each of #idle went idle (performance.now()), only with an idle timeout.
  #idleAt: number[] = [];
  #idleTimeout: number;
  #reaper: ReturnType<typeof setTimeout> | undefined;
  #reaping = new Set<Promise<void>>();
  #load = new Map<C, number>();
  #shared = new Set<C>();
  // Shared connections kept for waiting exclusive takers: no new statements.
  #reserved = new Set<C>();
  #opening = 0;
  #waiters = new WaitQueue<C>();
  #closed = false;
  #drained: (() => void) | undefined;
  #max: number;
  #pipeline: number;
  #open: () => Promise<C>;
  #close: (c: C) => Promise<void>;
  #alive: ((c: C) => boolean) | undefined;
  #what: string;
  #waitWhat: string;

  /**
   * @param what names the pool in error messages
   * @param open opens one connection
   * @param close closes one connection
   * @param limits most connections open at once; most shared statements per
   * connection; `alive` tells a dead connection, which is closed instead of
   * handed out or kept; `idleTimeout` (ms, 0 for never) closes a connection
   * idle that long
   */
  constructor(
    what: string,
    open: () => Promise<C>,
    close: (c: C) => Promise<void>,
    limits: { max: number; pipeline?: number; alive?: (c: C) => boolean; idleTimeout?: number },
  ) {
    const { max, pipeline = 1, alive, idleTimeout = 0 } = limits;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`${what}: pool size must be a positive integer, got ${max}`);
    }
    this.#max = max;
    this.#idleTimeout = idleTimeout;
    this.#pipeline = pipeline;
    this.#open = open;
    this.#close = close;
    this.#alive = alive;
    this.#what = what;
    this.#waitWhat = `${what}: wait for a connection`;
  }

  /** Connections open or opening. */
  get size(): number {
    return this.#load.size + this.#opening;
  }

  /** Takes a connection at once if one is free (`shared`: for a single statement). */
  tryAcquire(shared = false): C | undefined {
    return this.#closed ? undefined : this.#take(shared, this.size < this.#max);
  }

  /** Takes a connection (`shared`: for a single statement), opening or waiting for one. */
  acquire(opts?: WaitOptions, shared = false): Promise<C> {
    try {
      if (this.#closed) throw new ClosedError(this.#what);
      checkCancelled(this.#what);
      const c = this.#take(shared, this.size < this.#max);
      if (c !== undefined) return Promise.resolve(c);
      if (this.size < this.#max) return this.#grow(opts).then((c) => this.#lend(c, shared));
      const busy = this.#take(shared, false);
      if (busy !== undefined) return Promise.resolve(busy);
      return park<C | null>(this.#waitWhat, opts, (wake) => {
        const waiter: Waiter<C> = { shared, wake };
        this.#queue(waiter);
        return () => this.unqueue(waiter);
      }).then((handed) => handed ?? this.acquire(opts, shared));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Queues `waiter` for a connection when every one that may be open is
   * taken ({@linkcode tryAcquire} found none): `waiter.wake(c)` lends it one
   * later, `wake(null)` tells it to look again ({@linkcode acquire}). False,
   * and nothing queued, when the pool is closed or may open a connection.
   */
  queue(waiter: Waiter<C>): boolean {
    if (this.#closed || this.size < this.#max) return false;
    this.#queue(waiter);
    return true;
  }

  /** Takes a queued `waiter` off the queue (it gave up waiting). */
  unqueue(waiter: Waiter<C>): void {
    this.#waiters.remove(waiter);
    this.#unreserve();
  }

  /** Gives `c` back; `broken` closes it instead, freeing its slot. */
  release(c: C, broken = false): void {
    const load = this.#load.get(c);
    if (load === undefined) return; // already dropped as broken
    if (broken || this.#alive?.(c) === false) return this.#drop(c);
    const waiters = this.#waiters;
    if (load > 1) {
      this.#load.set(c, load - 1);
      if (!this.#reserved.has(c)) waiters.shiftShared()?.wake(this.#lend(c, true));
      return;
    }
    this.#load.set(c, 0);
    if (this.#pipeline > 1) {
      this.#shared.delete(c);
      this.#reserved.delete(c);
    }
    if (this.#closed) return this.#drop(c);
    const first = waiters.shift();
    if (!first) return this.#rest(c);
    first.wake(this.#lend(c, first.shared));
    if (first.shared) this.#fill(c);
    else this.#unreserve();
    this.#reserve();
  }

  /** Stops handing out connections, wakes waiters with {@linkcode ClosedError}, closes all connections once released. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (let w; (w = this.#waiters.shift());) w.wake(null);
    }
    clearTimeout(this.#reaper);
    this.#reaper = undefined;
    const idle = this.#idle.splice(0);
    this.#idleAt.length = 0;
    for (const c of idle) this.#load.delete(c);
    await Promise.all([
      ...idle.map((c) => this.#close(c).catch(() => {})),
      ...this.#reaping,
    ]);
    if (this.size > 0) await new Promise<void>((resolve) => this.#drained = resolve);
  }

  #queue(waiter: Waiter<C>): void {
    this.#waiters.push(waiter);
    if (!waiter.shared) this.#reserve();
  }

  // An idle connection, else (unless `idleOnly`: a new one may be opened
  // instead) the least loaded shared one.
  #take(shared: boolean, idleOnly: boolean): C | undefined {
    if (shared && this.#pipeline < 2 && this.#waiters.exclusive > 0) return undefined;
    let idle = this.#pop();
    while (idle !== undefined && this.#alive?.(idle) === false) {
      this.#load.delete(idle);
      abandon(this.#close(idle));
      idle = this.#pop();
    }
    if (idle !== undefined) return this.#lend(idle, shared);
    if (idleOnly || !shared || this.#pipeline < 2) return undefined;
    let best: C | undefined;
    let bestLoad = this.#pipeline;
    for (const c of this.#shared) {
      const load = this.#load.get(c)!;
      if (load < bestLoad && !this.#reserved.has(c)) [best, bestLoad] = [c, load];
    }
    return best === undefined ? undefined : this.#lend(best, true);
  }

  // Wakes shared waiters onto `c` while it has room.
  #fill(c: C): void {
    while (this.#load.get(c)! < this.#pipeline) {
      const next = this.#waiters.shiftShared();
      if (!next) return;
      next.wake(this.#lend(c, true));
    }
  }

  // Reserves the least loaded shared connections, one per waiting exclusive taker.
  #reserve(): void {
    while (this.#reserved.size < this.#waiters.exclusive) {
      let best: C | undefined;
      let bestLoad = Infinity;
      for (const c of this.#shared) {
        const load = this.#load.get(c)!;
        if (load < bestLoad && !this.#reserved.has(c)) [best, bestLoad] = [c, load];
      }
      if (best === undefined) return;
      this.#reserved.add(best);
    }
  }

  // Frees the reservations beyond the waiting exclusive takers, for shared waiters.
  #unreserve(): void {
    for (const c of this.#reserved) {
      if (this.#reserved.size <= this.#waiters.exclusive) return;
      this.#reserved.delete(c);
      this.#fill(c);
    }
  }

  #pop(): C | undefined {
    if (this.#idleTimeout > 0) this.#idleAt.pop();
    return this.#idle.pop();
  }

  // Puts `c` with the idle ones, and has it closed once idle too long.
  #rest(c: C): void {
    this.#idle.push(c);
    if (this.#idleTimeout <= 0) return;
    this.#idleAt.push(performance.now());
    this.#reap();
  }

  // Closes the connections idle for the timeout; waits for the next one to be.
  #reap(): void {
    if (this.#reaper !== undefined) return;
    const now = performance.now();
    while (this.#idle.length && now - this.#idleAt[0] >= this.#idleTimeout) {
      const c = this.#idle.shift()!;
      this.#idleAt.shift();
      this.#load.delete(c);
      const closing = this.#close(c).catch(() => {}).finally(() => {
        this.#reaping.delete(closing);
        if (this.size === 0) this.#drained?.();
      });
      this.#reaping.add(closing);
    }
    if (!this.#idle.length) return;
    const reaper = setTimeout(() => {
      this.#reaper = undefined;
      this.#reap();
    }, this.#idleAt[0] + this.#idleTimeout - now);
    // An idle pool does not keep the program running.
    Deno.unrefTimer(reaper);
    this.#reaper = reaper;
  }

  #lend(c: C, shared: boolean): C {
    this.#load.set(c, (this.#load.get(c) ?? 0) + 1);
    if (shared && this.#pipeline > 1) this.#shared.add(c);
    return c;
  }

  #drop(c: C): void {
    this.#load.delete(c);
    this.#shared.delete(c);
    this.#reserved.delete(c);
    abandon(
      this.#close(c).finally(() => {
        if (this.size === 0) this.#drained?.();
      }),
    );
    this.#waiters.shift()?.wake(null);
    this.#unreserve();
  }

  async #grow(opts?: WaitOptions): Promise<C> {
    this.#opening++;
    const opening = this.#open().then((c) => {
      this.#opening--;
      this.#load.set(c, 0);
      return c;
    }, (err) => {
      this.#opening--;
      this.#waiters.shift()?.wake(null);
      if (this.size === 0) this.#drained?.();
      throw err;
    });
    try {
      return await race(`${this.#what}: connect`, opening, opts);
    } catch (err) {
      // Given up while connecting: a connection that still opens goes to the pool.
      if (isEarlyWake(err)) abandon(opening.then((c) => this.release(this.#lend(c, false))));
      throw err;
    }
  }
}

/**
 * One caller waiting for a connection of the pool.
 *
 * @example
 * ```ts ignore
 * const waiter: Waiter<Conn> = { shared: true, wake: (c) => c ? run(c) : retry() };
 * if (!pool.queue(waiter)) await pool.acquire(undefined, true);
 * ```
 */
export interface Waiter<C> {
  /** True for a single statement that may share a connection. */
  readonly shared: boolean;
  /** Lends it `c`, or (`null`) tells it to look again. */
  wake(c: C | null): void;
}

/**
 * The FIFO of callers waiting for a connection, with a count of the
 * exclusive ones so a shared taker checks in O(1) whether it must queue.
 */
class WaitQueue<C> {
  #items: Array<Waiter<C> | undefined> = [];
  #head = 0;
  /** Waiting exclusive takers. */
  exclusive = 0;

  /** Queues a waiter. */
  push(waiter: Waiter<C>): void {
    this.#items.push(waiter);
    if (!waiter.shared) this.exclusive++;
  }

  /** The first waiter, taken off the queue. */
  shift(): Waiter<C> | undefined {
    const items = this.#items;
    if (this.#head === items.length) return undefined;
    const first = items[this.#head]!;
    items[this.#head++] = undefined;
    if (this.#head === items.length) {
      items.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= items.length) {
      items.splice(0, this.#head);
      this.#head = 0;
    }
    if (!first.shared) this.exclusive--;
    return first;
  }

  /**
   * The first shared waiter, taken off the queue: exclusive waiters ahead
   * of it (few: each holds a whole connection) keep their order.
   */
  shiftShared(): Waiter<C> | undefined {
    const items = this.#items;
    let i = this.#head;
    while (i < items.length && !items[i]!.shared) i++;
    if (i === items.length) return undefined;
    const found = items[i]!;
    for (; i > this.#head; i--) items[i] = items[i - 1];
    items[this.#head] = found;
    return this.shift();
  }

  /** Takes `waiter` off the queue, if it is still on it. */
  remove(waiter: Waiter<C>): void {
    const i = this.#items.indexOf(waiter, this.#head);
    if (i < 0) return;
    this.#items.splice(i, 1);
    if (!waiter.shared) this.exclusive--;
  }
}

/**
 * The queue behind a subscription: messages pushed by a listener wait
 * here until the subscriber takes them, each take a task-aware wait.
 *
 * @module
 */
import { park, type WaitOptions } from "../_wait.ts";

type Waiter<T> = (value: T | null) => void;

/**
 * A bounded queue with one end pushed synchronously (a listener) and the
 * other awaited (a subscriber's `next`). When full, new messages are
 * dropped and counted; after {@linkcode Inbox.close}, takes return `null`.
 *
 * @example
 * ```ts
 * import { Inbox } from "./_inbox.ts";
 * const inbox = new Inbox<string>("subscription", 2);
 * inbox.push("a");
 * inbox.push("b");
 * inbox.push("c"); // full: dropped
 * if (await inbox.next() !== "a" || inbox.dropped !== 1) throw new Error("order");
 * inbox.close();
 * if (await inbox.next() !== null) throw new Error("closed");
 * ```
 */
export class Inbox<T> {
  #items: T[] = [];
  #head = 0;
  #waiters: Waiter<T>[] = [];
  #closed = false;
  #what: string;
  #limit: number;
  /** Messages dropped because the queue was full. */
  dropped = 0;

  /**
   * @param what The operation, for error messages of a wait.
   * @param limit How many messages may wait.
   */
  constructor(what: string, limit: number) {
    this.#what = what;
    this.#limit = limit;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Queues `value` (or hands it to a waiting taker); false when dropped or closed. */
  push(value: T): boolean {
    if (this.#closed) return false;
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter(value);
      return true;
    }
    if (this.#items.length - this.#head >= this.#limit) {
      this.dropped++;
      return false;
    }
    this.#items.push(value);
    return true;
  }

  /** The next message, or `null` once closed. */
  next(opts?: WaitOptions): Promise<T | null> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head++];
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      return Promise.resolve(value);
    }
    if (this.#closed) return Promise.resolve(null);
    return park<T | null>(this.#what, opts, (resolve) => {
      this.#waiters.push(resolve);
      return () => {
        const i = this.#waiters.indexOf(resolve);
        if (i >= 0) this.#waiters.splice(i, 1);
      };
    });
  }

  /** Ends the queue: pending and later takes return `null`, queued messages are dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#items = [];
    this.#head = 0;
    for (const waiter of this.#waiters.splice(0)) waiter(null);
  }
}

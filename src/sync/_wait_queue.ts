/**
 * The FIFO of parked waiters every synchronisation primitive is built on.
 *
 * @module
 */
import { park, type WaitOptions } from "../_wait.ts";

export interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

/** A FIFO of parked waiters; a waiter that gives up removes itself. */
export class WaitQueue<T> {
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

/**
 * The callbacks a holder keeps beyond its first one (which it keeps in a
 * field of its own: most holders have one): an array while they are few,
 * taken off in about the order they came (a hole each, skipped from the
 * head on), which costs less than a set's table growing and shrinking;
 * a set once they are many. Not an entry point.
 *
 * @module
 */

/** How many callbacks stay in an array before they move to a set. */
const FEW = 32;

/**
 * Callbacks of one kind, called in the order they were added.
 *
 * @example
 * ```ts
 * import { Callbacks } from "./_callbacks.ts";
 * const seen: string[] = [];
 * const a = (s: string) => seen.push("a" + s), b = (s: string) => seen.push("b" + s);
 * const list = new Callbacks<(s: string) => void>();
 * list.add(a);
 * list.add(b);
 * list.delete(a);
 * list.call("!");
 * if (seen.join() !== "b!") throw new Error(seen.join());
 * ```
 */
export class Callbacks<F extends (arg: never) => void> {
  #list: Array<F | undefined> | Set<F> = [];
  #head = 0;

  /** Adds `fn`. */
  add(fn: F): void {
    const list = this.#list;
    if (!Array.isArray(list)) return void list.add(fn);
    if (list.length < FEW) return void list.push(fn);
    const live = list.filter((f) => f !== undefined);
    live.push(fn);
    this.#head = 0;
    this.#list = live.length < FEW / 2 ? live : new Set(live);
  }

  /** Takes `fn` off (nothing when it is not there). */
  delete(fn: F): void {
    const list = this.#list;
    if (!Array.isArray(list)) return void list.delete(fn);
    const i = list.indexOf(fn, this.#head);
    if (i < 0) return;
    list[i] = undefined;
    while (this.#head < list.length && list[this.#head] === undefined) this.#head++;
    if (this.#head === list.length) list.length = this.#head = 0;
  }

  /** Calls every callback with `arg`, in order. */
  call(arg: Parameters<F>[0]): void {
    for (const fn of this.#list) (fn as ((arg: Parameters<F>[0]) => void) | undefined)?.(arg);
  }
}

/**
 * Coalesces list-change notifications (`notifications/tools/list_changed`
 * and the like), which carry no data: the first change of a kind goes out
 * at once, and further changes within the window after it become one
 * notification at the end of the window. A client is still told after
 * every change, at most `window` ms late, but a burst of writes (every
 * `notes_add` changes the resource list) costs each session one message
 * per window instead of one per write.
 *
 * @example
 * ```ts
 * import { ListChanges } from "./list_changes.ts";
 * const sent: string[] = [];
 * const count = (): number => sent.length;
 * const changes = new ListChanges(50, (method) => sent.push(method));
 * changes.notify("notifications/tools/list_changed"); // goes out now
 * changes.notify("notifications/tools/list_changed"); // held for the window
 * changes.notify("notifications/tools/list_changed"); // merged with the one held
 * if (count() !== 1) throw new Error(`sent ${count()}`);
 * await new Promise((r) => setTimeout(r, 80));
 * if (count() !== 2) throw new Error(`sent ${count()}`);
 * changes.close();
 * ```
 * @module
 */

/** Sends list-change notifications, at most one per kind per window. */
export class ListChanges {
  readonly #window: number;
  readonly #send: (method: string) => void;
  readonly #last = new Map<string, number>();
  readonly #held = new Map<string, ReturnType<typeof setTimeout>>();
  #closed = false;

  /**
   * @param window the shortest time between two notifications of one kind, ms
   * @param send sends notification `method` to every session that wants it
   */
  constructor(window: number, send: (method: string) => void) {
    this.#window = window;
    this.#send = send;
  }

  /** Reports a change of kind `method`. */
  notify(method: string): void {
    if (this.#closed || this.#held.has(method)) return;
    const since = Date.now() - (this.#last.get(method) ?? -Infinity);
    if (since >= this.#window) return this.#fire(method);
    this.#held.set(
      method,
      setTimeout(() => {
        this.#held.delete(method);
        this.#fire(method);
      }, this.#window - since),
    );
  }

  /** Drops what is held; later changes are ignored. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#held.values()) clearTimeout(timer);
    this.#held.clear();
  }

  #fire(method: string): void {
    this.#last.set(method, Date.now());
    this.#send(method);
  }
}

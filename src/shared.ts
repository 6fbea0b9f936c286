/**
 * lunet/shared: a fixed-capacity key/value dictionary shared by every
 * worker of one server (lua-eco's `eco.shared`, the original lunet's
 * `lnt_shared`), with one API in both isolation modes of
 * `serve({ workers })`:
 *
 * - thread workers (and the supervising thread, and Deno workers the app
 *   starts with {@linkcode SharedDict.handle}) hold the table itself in a
 *   `SharedArrayBuffer`. Reads take no lock (each slot is a seqlock);
 *   writes are atomic under one lock word that is never held across a
 *   yield, and a lock left by a worker that died mid-write is recovered by
 *   the supervisor (half-written slots are dropped, the rest rebuilt).
 * - process workers reach the supervisor's table over a Unix socket.
 *
 * Values are strings, byte arrays or numbers up to `maxValueBytes`; keys
 * are strings up to `maxKeyBytes` UTF-8 bytes. Entries may carry a TTL;
 * when the dictionary is full, a new key evicts an expired entry, else
 * the least recently used (a scan of the table: O(capacity)).
 *
 * @example A counter
 * ```ts
 * import { shared } from "@lunet/lunet/shared";
 * const hits = shared("example");
 * await hits.incr("visits");
 * const n = await hits.incr("visits");
 * if (n !== 2) throw new Error(`expected 2, got ${n}`);
 * await hits.clear();
 * ```
 * @module
 */
import { type Entry, Table, type TableSizes, type Value } from "./shared/_table.ts";
import { DEFAULT_SIZES, registryStore, type Store } from "./shared/_store.ts";

export type { Value as SharedValue };

/**
 * Sizes of a dictionary.
 *
 * @example
 * ```ts
 * import type { SharedOptions } from "@lunet/lunet/shared";
 * const sessions: SharedOptions = { capacity: 10_000, maxValueBytes: 512 };
 * ```
 */
export interface SharedOptions {
  /** Most entries held; a new key past it evicts one. @default {1024} */
  capacity?: number;
  /** Longest key in UTF-8 bytes. @default {128} */
  maxKeyBytes?: number;
  /** Longest string (UTF-8 bytes) or byte value. @default {1024} */
  maxValueBytes?: number;
}

/**
 * Options of {@linkcode SharedDict.set}, {@linkcode SharedDict.add} and
 * {@linkcode SharedDict.incr}.
 *
 * @example
 * ```ts
 * import type { SetOptions } from "@lunet/lunet/shared";
 * const opts: SetOptions = { ttl: 60_000 };
 * ```
 */
export interface SetOptions {
  /** Time to live in ms (0 or absent: none). For `incr`, applies when it creates the key. */
  ttl?: number;
}

/**
 * What {@linkcode SharedDict.handle} returns: posted to a Deno worker the
 * app starts, {@linkcode openShared} opens the same dictionary there.
 *
 * @example
 * ```ts
 * import { createShared, openShared, type SharedHandle } from "@lunet/lunet/shared";
 * const handle: SharedHandle = createShared({ capacity: 16 }).handle();
 * const again = openShared(handle);
 * await again.set("k", "v");
 * ```
 */
export interface SharedHandle {
  /** The table's memory. */
  readonly buffer: SharedArrayBuffer;
}

let makeDict: (store: Store, table: Table | undefined) => SharedDict;

/**
 * One shared dictionary. Every method returns a promise (a process
 * worker's dictionary is across a socket); in shared memory they settle
 * at once.
 *
 * @example
 * ```ts
 * import { createShared } from "@lunet/lunet/shared";
 * const d = createShared({ capacity: 2 });
 * await d.set("a", "1");
 * await d.set("b", new Uint8Array([1, 2]));
 * await d.set("c", 3); // evicts "a", the least recently used
 * if (await d.get("a") !== undefined) throw new Error("a was evicted");
 * if (!(await d.add("d", 4)) || await d.add("d", 5)) throw new Error("add sets only if absent");
 * ```
 */
export class SharedDict {
  #store: Store;
  #table: Table | undefined;

  /** @ignore */
  private constructor(store: Store, table: Table | undefined) {
    this.#store = store;
    this.#table = table;
  }

  static {
    makeDict = (store, table) => new SharedDict(store, table);
  }

  /** The value of `key`, or `undefined` (absent or expired). */
  async get(key: string): Promise<Value | undefined> {
    return await this.#store.get(key);
  }

  /** Sets `key` to `value` (a string, bytes or a number), with an optional TTL. */
  async set(key: string, value: Value, opts: SetOptions = {}): Promise<void> {
    await this.#store.set(key, value, ttlOf(opts), false);
  }

  /** Sets `key` only if it is absent (or expired); `true` when it did. */
  async add(key: string, value: Value, opts: SetOptions = {}): Promise<boolean> {
    return await this.#store.set(key, value, ttlOf(opts), true);
  }

  /**
   * Adds `by` (default 1) to the number at `key` atomically and returns
   * the result; an absent key counts from 0, a string holding a decimal
   * number is read as one, anything else throws `TypeError`.
   */
  async incr(key: string, by = 1, opts: SetOptions = {}): Promise<number> {
    return await this.#store.incr(key, by, ttlOf(opts));
  }

  /** Subtracts `by` (default 1) atomically; see {@linkcode SharedDict.incr}. */
  async decr(key: string, by = 1, opts: SetOptions = {}): Promise<number> {
    return await this.#store.incr(key, -by, ttlOf(opts));
  }

  /** Removes `key`; `true` when it was there. */
  async delete(key: string): Promise<boolean> {
    return await this.#store.delete(key);
  }

  /** The live keys, least recently used first. */
  async keys(): Promise<string[]> {
    return (await this.#store.entries()).map((e: Entry) => e.key);
  }

  /** How many live entries there are. */
  async size(): Promise<number> {
    return (await this.#store.entries()).length;
  }

  /** Removes every entry. */
  async clear(): Promise<void> {
    await this.#store.clear();
  }

  /**
   * A handle to post to a Deno worker the app starts
   * ({@linkcode openShared} there). Throws for a process worker's
   * dictionary, which lives in another process.
   */
  handle(): SharedHandle {
    if (!this.#table) {
      throw new TypeError("shared: a process worker's dictionary has no shared memory to hand out");
    }
    return { buffer: this.#table.buffer };
  }
}

function ttlOf(opts: SetOptions): number {
  const ttl = opts.ttl ?? 0;
  if (typeof ttl !== "number" || !(ttl >= 0)) {
    throw new RangeError(`shared: ttl must be a number of ms ≥ 0, got ${ttl}`);
  }
  return ttl;
}

function sizesOf(opts: SharedOptions): TableSizes {
  return {
    capacity: opts.capacity ?? DEFAULT_SIZES.capacity,
    maxKeyBytes: opts.maxKeyBytes ?? DEFAULT_SIZES.maxKeyBytes,
    maxValueBytes: opts.maxValueBytes ?? DEFAULT_SIZES.maxValueBytes,
  };
}

/**
 * The dictionary `name` (default `"default"`) of this server: inside a
 * worker of `serve({ workers, shared })`, the one every worker sees (a
 * name must be declared in `shared`, or be `"default"`); elsewhere, this
 * process's own, created on first use with the default sizes.
 *
 * @example
 * ```ts
 * import { shared } from "@lunet/lunet/shared";
 * const a = shared("doc-example"), b = shared("doc-example");
 * await a.set("greeting", "hi");
 * if (await b.get("greeting") !== "hi") throw new Error("same dictionary");
 * await a.clear();
 * ```
 */
export function shared(name = "default"): SharedDict {
  const store = registryStore(name);
  return makeDict(store, store instanceof Table ? store : undefined);
}

/**
 * A new dictionary in shared memory, owned by nobody but its users: pass
 * {@linkcode SharedDict.handle} to Deno workers to share it.
 *
 * @example
 * ```ts
 * import { createShared } from "@lunet/lunet/shared";
 * const d = createShared({ capacity: 100, maxValueBytes: 64 });
 * await d.set("session", "abc", { ttl: 60_000 });
 * if (await d.size() !== 1) throw new Error("one entry");
 * ```
 */
export function createShared(opts: SharedOptions = {}): SharedDict {
  const table = Table.create(sizesOf(opts), randomToken());
  return makeDict(table, table);
}

/**
 * Opens in this thread the dictionary behind `handle` (from
 * {@linkcode SharedDict.handle}, posted from another thread).
 *
 * @example
 * ```ts
 * import { createShared, openShared } from "@lunet/lunet/shared";
 * const d = createShared();
 * const same = openShared(d.handle());
 * await same.incr("n");
 * if (await d.get("n") !== 1) throw new Error("same table");
 * ```
 */
export function openShared(handle: SharedHandle): SharedDict {
  const table = new Table(handle.buffer, randomToken());
  return makeDict(table, table);
}

// Writer tokens of tables opened outside a supervisor: random, above the
// ones a supervisor hands out.
function randomToken(): number {
  return (1 << 30) + Math.floor(Math.random() * (1 << 30));
}

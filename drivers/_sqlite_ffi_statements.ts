/**
 * The prepared statements of one ffi-engine connection, by SQL text: at
 * most 128, the oldest finalized first. Preparing records whether a
 * statement may run inline (a read) and what SQL follows it when the text
 * holds several statements.
 *
 * @module
 */
import {
  PREPARE_PERSISTENT,
  SQLITE_BUSY,
  SQLITE_INTERRUPT,
  SQLITE_OK,
  type SqliteSymbols,
} from "./_sqlite_ffi_lib.ts";
import { columnNames, sqliteError } from "./_sqlite_ffi_values.ts";
import { fromFirstStatement, moreStatements } from "./_sqlite_sql.ts";

const CACHE_SIZE = 128;
const READ = /^\s*(?:select|values|with)\b/i;
const encoder = new TextEncoder();
const utf8 = new TextDecoder();

/** Marks a statement that has to run off the event loop. */
export const OFF_LOOP: unique symbol = Symbol("off loop");

/** One prepared statement, kept for reuse. */
export interface Prepared {
  handle: Deno.PointerObject;
  columns: string[];
  /** Tried on the event loop's thread first. */
  inline: boolean;
  /** Runs left that skip the inline attempt. */
  offLoopRuns: number;
  /** The SQL after this statement when it holds more statements. */
  rest: string | undefined;
}

/**
 * The statement cache of one connection.
 *
 * @example
 * ```ts ignore
 * const statements = new Statements(lib, db);
 * const p = statements.prepare("SELECT 1"); // Prepared, undefined (no statement) or OFF_LOOP
 * statements.finalizeAll();
 * ```
 */
export class Statements {
  readonly #lib: SqliteSymbols;
  readonly #db: Deno.PointerObject;
  readonly #cache = new Map<string, Prepared>();
  readonly #out = new BigUint64Array(1);
  readonly #tail = new BigUint64Array(1);

  constructor(lib: SqliteSymbols, db: Deno.PointerObject) {
    this.#lib = lib;
    this.#db = db;
  }

  /** The statement for `sql` if it is cached. */
  get(sql: string): Prepared | undefined {
    return this.#cache.get(sql);
  }

  /** Finalizes every cached statement. */
  finalizeAll(): void {
    for (const p of this.#cache.values()) this.#lib.sqlite3_finalize(p.handle);
    this.#cache.clear();
  }

  /** The cached statement for `sql`; undefined for an empty one; `OFF_LOOP` when a lock stopped it. */
  prepare(sql: string): Prepared | undefined | typeof OFF_LOOP {
    const cached = this.#cache.get(sql);
    if (cached) return cached;
    const bytes = encoder.encode(fromFirstStatement(sql));
    const rc = this.#lib.sqlite3_prepare_v3(...this.#prepareArgs(bytes));
    if (rc === SQLITE_INTERRUPT || (rc & 0xff) === SQLITE_BUSY) return OFF_LOOP;
    return this.#keep(sql, bytes, rc);
  }

  /** Prepares `sql` on a runtime thread (waiting for locks): the statement, or undefined for none. */
  async prepareOffLoop(sql: string): Promise<Prepared | undefined> {
    const cached = this.#cache.get(sql);
    if (cached) return cached;
    const bytes = encoder.encode(fromFirstStatement(sql));
    const rc = await this.#lib.prepare_off_loop(...this.#prepareArgs(bytes));
    return this.#keep(sql, bytes, rc);
  }

  /** The arguments of `sqlite3_prepare_v3` for `bytes`: the statement and the tail land in #out and #tail. */
  #prepareArgs(bytes: Uint8Array<ArrayBuffer>) {
    return [
      this.#db,
      bytes,
      bytes.length,
      PREPARE_PERSISTENT,
      new Uint8Array(this.#out.buffer),
      new Uint8Array(this.#tail.buffer),
    ] as const;
  }

  /** Caches the statement just prepared from `bytes` (the UTF-8 of `sql`, from its first statement). */
  #keep(sql: string, bytes: Uint8Array<ArrayBuffer>, rc: number): Prepared | undefined {
    const lib = this.#lib;
    if (rc !== SQLITE_OK) throw sqliteError(lib, this.#db, rc);
    const handle = Deno.UnsafePointer.create(this.#out[0]);
    if (handle === null) return undefined;
    const base = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
    const tail = utf8.decode(bytes.subarray(Number(this.#tail[0] - base)));
    const p: Prepared = {
      handle,
      columns: columnNames(lib, handle),
      inline: lib.sqlite3_stmt_readonly(handle) !== 0 &&
        READ.test(fromFirstStatement(sql)),
      offLoopRuns: 0,
      rest: moreStatements(tail),
    };
    if (this.#cache.size >= CACHE_SIZE) {
      const [oldest, evicted] = this.#cache.entries().next().value!;
      this.#cache.delete(oldest);
      lib.sqlite3_finalize(evicted.handle);
    }
    this.#cache.set(sql, p);
    return p;
  }
}

/**
 * SQLite for lunet, off the event loop's critical path, with two engines
 * behind one API. File databases use WAL mode; writes and transactions are
 * serialized on one writer connection while plain `SELECT`s run on reader
 * connections, started on demand (the first read, and another while all
 * open ones are busy) and closed after {@linkcode SqliteConfig.idleTimeout}
 * without work.
 *
 * - **ffi** (the default where `--allow-ffi` is granted and the system
 *   `libsqlite3` loads): SQLite's C API through `Deno.dlopen`, no isolate.
 *   A read runs on the event loop's thread under a time budget
 *   ({@linkcode SqliteConfig.loopBudget}, 2 ms); one that overruns it is
 *   stopped (without effect) and runs again on a runtime thread, one step
 *   per row. Writes, transaction control, `PRAGMA`s and waits for locks
 *   always run on a runtime thread. A statement given up by its caller is
 *   stopped with `sqlite3_interrupt`.
 * - **worker**: `node:sqlite` in one worker thread per connection, fed
 *   through a shared buffer and `Atomics`; statements queued on one worker
 *   travel together. Each worker is a V8 isolate (11–17 MiB resident), so
 *   a small database does best with `readers: 0`. A statement already
 *   running in its worker cannot be stopped: it runs to completion (a
 *   transaction it belongs to is then rolled back) before the connection
 *   serves anyone else.
 *
 * Both engines open only files Deno's `--allow-read` / `--allow-write`
 * grant (the ffi engine asks Deno before the library opens one), and
 * `ATTACH` / `VACUUM INTO`, which name other files from SQL, work only in a
 * process granted every permission, as in Deno's `node:sqlite`.
 *
 * Importing this module loads no npm package.
 *
 * @example
 * ```ts
 * import * as sqlite from "@lunet/lunet/sqlite";
 * const db = await sqlite.open(":memory:");
 * await db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)");
 * const { lastInsertId } = await db.exec("INSERT INTO users (name) VALUES (?)", "bob");
 * console.log(lastInsertId, await db.query("SELECT * FROM users WHERE name = ?", "bob"));
 * await db.transaction(async (tx) => {
 *   await tx.exec("UPDATE users SET name = ? WHERE id = ?", "alice", lastInsertId);
 * });
 * await db.close();
 * ```
 * @module
 */
import { DbError } from "../src/errors.ts";
import { checkCount, checkMillis, settingsOf } from "./_config.ts";
import { readEnv } from "../src/_env.ts";
import { shown } from "../src/_shown.ts";
import type { WaitOptions } from "../src/_wait.ts";
import { PooledDb } from "./_pooled_db.ts";
import { FfiConn } from "./_sqlite_ffi_conn.ts";
import { sqliteLibrary, type SqliteSymbols } from "./_sqlite_ffi_lib.ts";
import { MAX_BATCH, WorkerConn } from "./_sqlite_worker_conn.ts";
import type { Connector, Db, Kind } from "./_types.ts";

export type { WaitOptions } from "../src/_wait.ts";
export type {
  Db,
  ExecResult,
  Queryable,
  Row,
  Sql,
  Statement,
  TransactionOptions,
} from "./_types.ts";

/**
 * Settings of {@linkcode open}.
 *
 * @example
 * ```ts
 * import type { SqliteConfig } from "@lunet/lunet/sqlite";
 * const cfg: SqliteConfig = { path: "app.db", readers: 2, idleTimeout: 30_000, busyTimeout: 5000 };
 * const viaWorkers: SqliteConfig = { path: "app.db", engine: "worker" };
 * const small: SqliteConfig = { path: "notes.db", readers: 0 }; // one worker in all
 * ```
 */
export interface SqliteConfig {
  /** Database file, or `":memory:"` for a private in-memory database. */
  path: string;
  /**
   * Most reader connections (worker threads) for `SELECT`s on a file
   * database, started on demand. Default 2; 0 serves reads on the writer
   * (one worker in all, still off the event loop); an in-memory database
   * always has none (one connection serves everything).
   */
  readers?: number;
  /**
   * Milliseconds a reader connection may stay idle before its worker is
   * stopped (it starts again when reads need it). Default 30 000; 0 keeps
   * readers until the database is closed.
   */
  idleTimeout?: number;
  /** Milliseconds to wait for a lock held by another process. Default 5000. */
  busyTimeout?: number;
  /**
   * How statements reach SQLite: `"ffi"` calls the system library
   * (`libsqlite3`) through `Deno.dlopen` and needs `--allow-ffi`;
   * `"worker"` runs `node:sqlite` in one worker thread per connection.
   * Default: `LUNET_SQLITE_ENGINE` when set, else `"ffi"` when the library
   * loads, else `"worker"`. Naming `"ffi"` where it cannot load is an error.
   * The library is `LUNET_SQLITE_LIB` when set (a name or path), else the
   * platform's usual one (`libsqlite3.so.0` on Linux).
   */
  engine?: "ffi" | "worker";
  /**
   * Milliseconds a read may run on the event loop's thread before it is
   * moved to a runtime thread (ffi engine). Default 2.
   */
  loopBudget?: number;
}

/** What the pool needs of a connection of either engine. */
interface SqliteConn {
  readonly dead: boolean;
  statement(kind: Kind, sql: string, params: unknown[]): Promise<unknown>;
  interrupt(running: Promise<unknown>): void;
  close(): Promise<void>;
}

type OpenConn = (readOnly: boolean, label: string) => Promise<SqliteConn>;

function connector(path: string, openConn: OpenConn): Connector<SqliteConn> {
  const label = `sqlite ${path}`;
  return {
    dialect: "sqlite",
    label,
    // Statements queued on one connection run in call order (on a worker,
    // together in one round trip).
    pipeline: MAX_BATCH,
    connect: (readOnly) => openConn(readOnly, label),
    run: (conn, kind, sql, params) => conn.statement(kind, sql, params),
    interrupt: (conn, running) => Promise.resolve(conn.interrupt(running)),
    isBroken: (conn) => conn.dead,
    disconnect: (conn) => conn.close(),
    begin: (mode) => `BEGIN ${beginMode(mode)}`,
  };
}

const MODES = ["deferred", "immediate", "exclusive"];

// The locking mode of a BEGIN, as SQL: only one of SQLite's three.
function beginMode(mode: unknown): string {
  if (mode === undefined) return "DEFERRED";
  if (typeof mode !== "string" || !MODES.includes(mode)) {
    throw new TypeError(
      `sqlite: transaction mode must be "deferred", "immediate" or "exclusive", got ${shown(mode)}`,
    );
  }
  return mode.toUpperCase();
}

/** The engine `open` uses: the one named, else ffi when the library loads, else worker. */
function chooseEngine(cfg: SqliteConfig): SqliteSymbols | undefined {
  const named = cfg.engine ?? readEnv("LUNET_SQLITE_ENGINE");
  if (named !== undefined && named !== "ffi" && named !== "worker") {
    throw new DbError(`sqlite: unknown engine "${named}" (known: ffi, worker)`);
  }
  if (named === "worker") return undefined;
  const lib = sqliteLibrary();
  if (typeof lib !== "string") return lib;
  if (named === "ffi") throw new DbError(`sqlite: the ffi engine is not available: ${lib}`);
  return undefined;
}

/**
 * Opens a SQLite database (`":memory:"` for a private in-memory one) on
 * the engine {@linkcode SqliteConfig.engine} picks. Close it with
 * {@linkcode Db.close}, which waits for running statements and closes
 * every connection (and, on the worker engine, terminates the workers).
 * Bad settings (a path that is not a string, negative timeouts…) are
 * refused with a TypeError or RangeError naming the setting.
 *
 * Values: integers are numbers, or bigints beyond 2^53; REAL is a number;
 * TEXT a string; BLOB a `Uint8Array`; NULL is `null`. Booleans bind as 1
 * and 0, `Date`s as ISO 8601 text (an invalid `Date` is refused), integral
 * numbers as INTEGER. Strings bind as UTF-8, a lone surrogate as U+FFFD.
 * Text holding NUL characters reads back whole on the ffi engine; on the
 * worker engine, from `SELECT` / `VALUES` / `WITH` statements of up to 52
 * columns (`node:sqlite` itself cuts TEXT at its first NUL, so such
 * statements run wrapped to fetch it as bytes), while other statements
 * (`RETURNING`, `PRAGMA`) return it cut at the NUL. SQL holding several
 * statements runs them all in `exec` without parameters (changes added
 * up) and is refused elsewhere (`driverCode` `MULTI_STATEMENT`).
 *
 * @example
 * ```ts
 * import * as sqlite from "@lunet/lunet/sqlite";
 * const db = await sqlite.open({ path: ":memory:" });
 * console.log(await db.queryOne("SELECT ? + 1 AS n", 41)); // { n: 42 }
 * await db.close();
 * ```
 */
export function open(config: SqliteConfig | string, opts?: WaitOptions): Promise<Db> {
  let cfg: SqliteConfig, lib: SqliteSymbols | undefined;
  let readers: number, idleTimeout: number, busyTimeout: number, budget: number;
  try {
    cfg = settingsOf<SqliteConfig>(config, "path", "sqlite");
    if (typeof cfg.path !== "string") {
      throw new TypeError(`sqlite: path must be a string, got ${shown(cfg.path)}`);
    }
    const memory = cfg.path === ":memory:" || cfg.path === "";
    readers = checkCount("readers", cfg.readers ?? 2, "sqlite", 0);
    if (memory) readers = 0;
    idleTimeout = checkMillis("idleTimeout", cfg.idleTimeout ?? 30_000, "sqlite");
    busyTimeout = checkMillis("busyTimeout", cfg.busyTimeout ?? 5000, "sqlite");
    budget = checkMillis("loopBudget", cfg.loopBudget ?? 2, "sqlite", true);
    lib = chooseEngine(cfg);
  } catch (err) {
    return Promise.reject(err);
  }
  const openConn: OpenConn = lib
    ? (readOnly, label) => FfiConn.open(lib, cfg.path, { readOnly, busyTimeout, budget, label })
    : (readOnly, label) => WorkerConn.open(cfg.path, { readOnly, busyTimeout, label });
  const db = new PooledDb("sqlite", connector(cfg.path, openConn), {
    max: 1,
    readers,
    readerIdleTimeout: idleTimeout,
  });
  return db.start(opts);
}

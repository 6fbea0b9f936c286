/**
 * The database API shared by `lunet/sqlite`, `lunet/mysql` and
 * `lunet/postgres`: the {@linkcode Db} and {@linkcode Queryable} types, the
 * parameter-count check, the mapping of driver errors to
 * {@linkcode DbError}, and the connection pool with transactions and
 * cancellation that every driver plugs a {@linkcode Connector} into.
 *
 * @example
 * ```ts ignore
 * import type { Db } from "./common.ts";
 * async function count(db: Db): Promise<number> {
 *   const row = await db.queryOne<{ n: number }>("SELECT COUNT(*) AS n FROM users");
 *   return row?.n ?? 0;
 * }
 * ```
 * @module
 */
import { ClosedError, DbError, LunetError } from "../src/errors.ts";
import { budget, checkCancelled, current, park, race, type WaitOptions } from "../src/task.ts";

export type { WaitOptions };

/**
 * One result row: column name → value (SQL NULL is `null`).
 *
 * @example
 * ```ts
 * import type { Row } from "@lunet/lunet/sqlite";
 * const row: Row = { id: 1, name: "bob", note: null };
 * ```
 */
export type Row = Record<string, unknown>;

/**
 * A statement with its parameters and wait options, accepted wherever SQL
 * text is: `db.query({ sql, params, timeout })`.
 *
 * @example
 * ```ts
 * import type { Statement } from "@lunet/lunet/sqlite";
 * const stmt: Statement = { sql: "SELECT * FROM t WHERE id = ?", params: [1], timeout: 500 };
 * ```
 */
export interface Statement extends WaitOptions {
  /** SQL text with placeholders (`?`, or `$1` on PostgreSQL). */
  sql: string;
  /** Values bound to the placeholders, in order. */
  params?: unknown[];
}

/**
 * SQL text, or a {@linkcode Statement} carrying parameters and options.
 *
 * @example
 * ```ts
 * import type { Sql } from "@lunet/lunet/sqlite";
 * const a: Sql = "SELECT 1";
 * const b: Sql = { sql: "SELECT ?", params: [1], timeout: 100 };
 * ```
 */
export type Sql = string | Statement;

/**
 * What {@linkcode Queryable.exec} reports.
 *
 * @example
 * ```ts
 * import type { ExecResult } from "@lunet/lunet/sqlite";
 * const r: ExecResult = { affectedRows: 1, lastInsertId: 42 };
 * ```
 */
export interface ExecResult {
  /** Rows inserted, updated or deleted by the statement. */
  affectedRows: number;
  /**
   * The id of the row the statement inserted: the rowid on SQLite, the
   * AUTO_INCREMENT value on MySQL, the first column of the last row of a
   * `RETURNING` clause on PostgreSQL; `null` when there is none.
   */
  lastInsertId: number | bigint | string | null;
}

/**
 * Options of {@linkcode Queryable.transaction}.
 *
 * @example
 * ```ts
 * import type { TransactionOptions } from "@lunet/lunet/sqlite";
 * const opts: TransactionOptions = { mode: "immediate", timeout: 1000 };
 * ```
 */
export interface TransactionOptions extends WaitOptions {
  /**
   * SQLite locking mode of the outer transaction (`BEGIN DEFERRED`,
   * `IMMEDIATE` or `EXCLUSIVE`). Default: `"deferred"`. Ignored by MySQL
   * and PostgreSQL, and by nested transactions (savepoints).
   */
  mode?: "deferred" | "immediate" | "exclusive";
}

/**
 * Something that runs SQL: an open database, or a transaction in progress.
 *
 * @example
 * ```ts
 * import type { Queryable } from "@lunet/lunet/sqlite";
 * async function addUser(db: Queryable, name: string): Promise<unknown> {
 *   return (await db.exec("INSERT INTO users (name) VALUES (?)", name)).lastInsertId;
 * }
 * ```
 */
export interface Queryable {
  /** Runs a statement and returns all its rows. */
  query<R = Row>(sql: Sql, ...params: unknown[]): Promise<R[]>;
  /** Runs a statement and returns its first row, or `null` when it has none. */
  queryOne<R = Row>(sql: Sql, ...params: unknown[]): Promise<R | null>;
  /** Runs a statement that changes data; returns the affected rows and inserted id. */
  exec(sql: Sql, ...params: unknown[]): Promise<ExecResult>;
  /**
   * Runs `fn` in a transaction: commits when it returns, rolls back when it
   * throws (and rethrows). Called on a transaction, it opens a savepoint.
   */
  transaction<T>(fn: (tx: Queryable) => T | Promise<T>, opts?: TransactionOptions): Promise<T>;
}

/**
 * An open database: a pool of connections (or SQLite worker threads).
 *
 * @example
 * ```ts
 * import * as sqlite from "@lunet/lunet/sqlite";
 * const db = await sqlite.open(":memory:");
 * console.log(await db.query("SELECT 1 AS one"));
 * await db.close();
 * ```
 */
export interface Db extends Queryable {
  /** Which driver this is. */
  readonly driver: "sqlite" | "mysql" | "postgres";
  /** True once {@linkcode Db.close} was called. */
  readonly closed: boolean;
  /**
   * Closes the database: new calls throw {@linkcode ClosedError}, calls
   * waiting for a connection wake with it, statements in flight finish,
   * then every connection (or worker thread) is shut down.
   */
  close(): Promise<void>;
}

/**
 * Connection settings of the MySQL and PostgreSQL drivers.
 *
 * @example
 * ```ts
 * import type { ServerConfig } from "@lunet/lunet/postgres";
 * const cfg: ServerConfig = { host: "127.0.0.1", user: "postgres", database: "test", pool: 8 };
 * ```
 */
export interface ServerConfig {
  /** A connection URL (`postgres://user:pass@host:port/db`); fields below override it. */
  url?: string;
  /** Server host. Default `127.0.0.1`. */
  host?: string;
  /** Server port. Default: the driver's standard port. */
  port?: number;
  /** User name. */
  user?: string;
  /** Password. */
  password?: string;
  /** Database name. */
  database?: string;
  /** Maximum number of connections. Default 10. */
  pool?: number;
  /** Milliseconds allowed to open one connection. Default 10000. */
  connectTimeout?: number;
}

/**
 * Settings after merging a URL and explicit fields.
 *
 * @example
 * ```ts ignore
 * const cfg: ResolvedServerConfig = resolveServerConfig("mysql://root@db:3306/app", {
 *   port: 3306,
 *   user: "root",
 * });
 * ```
 */
export interface ResolvedServerConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  pool: number;
  connectTimeout: number;
}

/**
 * How a statement's result is wanted.
 *
 * @example
 * ```ts ignore
 * const kind: Kind = "one"; // first row or null
 * ```
 */
export type Kind = "all" | "one" | "exec";

/**
 * Placeholder and quoting rules of a SQL dialect.
 *
 * @example
 * ```ts ignore
 * const dialect: Dialect = "postgres"; // $1 placeholders
 * ```
 */
export type Dialect = "sqlite" | "mysql" | "postgres";

/**
 * What a driver provides to {@linkcode PooledDb}: how to open, use,
 * interrupt and close one connection of type `C`.
 *
 * @example
 * ```ts ignore
 * const db = new PooledDb("sqlite", connector, { max: 1, readers: 2 });
 * await db.start();
 * ```
 */
export interface Connector<C> {
  /** The dialect, for the parameter check and savepoint syntax. */
  readonly dialect: Dialect;
  /** Names the database in messages, e.g. `postgres 127.0.0.1:5432/test`. */
  readonly label: string;
  /** Statements one connection may have in flight outside transactions (pipelining). Default 1. */
  readonly pipeline?: number;
  /** Opens one connection; `readOnly` asks for a reader (SQLite). */
  connect(readOnly: boolean): Promise<C>;
  /** Runs one statement on `c`; statements on one connection run in call order. */
  run(c: C, kind: Kind, sql: string, params: unknown[]): Promise<unknown>;
  /** Asks the server to stop `running`, a statement {@linkcode Connector.run} started on `c` (best effort). */
  interrupt(c: C, running: Promise<unknown>): Promise<void>;
  /** True when `err` left `c` unusable, so it must not return to the pool. */
  isBroken(c: C, err: unknown): boolean;
  /**
   * False when `c` is known to be dead (e.g. the server closed it while it
   * sat idle), so the pool closes it instead of handing it out. Called on
   * every checkout and release: it must be cheap and synchronous. Omitted:
   * every connection counts as alive.
   */
  alive?(c: C): boolean;
  /**
   * True when a statement that failed with `err` outside a transaction may
   * run again on another connection: it never reached the server (its
   * connection had closed under it), or it is a `read` whose connection was
   * lost. Omitted: no statement is run again.
   */
  retryable?(err: unknown, read: boolean): boolean;
  /** Closes `c`. */
  disconnect(c: C): Promise<void>;
  /** The statement that starts a transaction. */
  begin(mode: TransactionOptions["mode"]): string;
}

/**
 * Reads an integer from its decimal text: a number when exact, else a bigint.
 *
 * @example
 * ```ts ignore
 * parseInteger("42"); // 42
 * parseInteger("9223372036854775807"); // 9223372036854775807n
 * ```
 */
export function parseInteger(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

/**
 * A plain `Uint8Array` view of a Node `Buffer` (or any byte view).
 *
 * @example
 * ```ts ignore
 * const bytes = toBytes(Buffer.from([0, 1])); // a plain Uint8Array
 * ```
 */
export function toBytes(view: Uint8Array): Uint8Array {
  return view.constructor === Uint8Array
    ? view
    : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** Splits `sql` or a {@linkcode Statement} into text, parameters and options. */
function normalize(sql: Sql, params: unknown[]): [string, unknown[], WaitOptions | undefined] {
  if (typeof sql === "string") return [sql, params, undefined];
  if (params.length) {
    throw new TypeError("pass parameters either in the statement object or as arguments, not both");
  }
  return [sql.sql, sql.params ?? [], sql];
}

/**
 * Counts the placeholders `sql` expects (skipping string literals, quoted
 * identifiers and comments) and throws {@linkcode DbError} with driver code
 * `PARAM_COUNT` when `params` has another length (naming the dialect's
 * placeholder style when the statement uses another one),
 * `PARAM_UNDEFINED` for an `undefined` parameter, and `PARAM_INVALID` for
 * a value no driver stores faithfully (NaN, an invalid `Date`).
 *
 * @example
 * ```ts ignore
 * checkParams("mysql", "SELECT ? + ?", [1, 2]); // ok
 * checkParams("mysql", "SELECT ?", []); // throws DbError PARAM_COUNT
 * checkParams("mysql", "SELECT ?", [NaN]); // throws DbError PARAM_INVALID
 * ```
 */
export function checkParams(dialect: Dialect, sql: string, params: unknown[]): void {
  const expected = countPlaceholders(dialect, sql);
  if (params.length !== expected) {
    throw new DbError(
      `${dialect}: statement expects ${expected} parameter(s), got ${params.length}${
        styleHint(dialect, sql, expected, params.length)
      }: ${sql.length > 80 ? sql.slice(0, 77) + "..." : sql}`,
      { driverCode: "PARAM_COUNT" },
    );
  }
  for (let i = 0; i < params.length; i++) {
    const v = params[i];
    if (v === undefined) {
      throw new DbError(`${dialect}: parameter ${i + 1} is undefined (use null for NULL)`, {
        driverCode: "PARAM_UNDEFINED",
      });
    }
    const invalid = typeof v === "number"
      ? v !== v && "NaN"
      : v instanceof Date && Number.isNaN(v.getTime()) && "an invalid Date";
    if (invalid) {
      throw new DbError(`${dialect}: parameter ${i + 1} is ${invalid}, which cannot be stored`, {
        driverCode: "PARAM_INVALID",
      });
    }
  }
}

/**
 * When `sql` uses the other placeholder style (`?` on PostgreSQL, `$n`
 * elsewhere), a note saying which style `dialect` uses; else "".
 */
function styleHint(dialect: Dialect, sql: string, expected: number, got: number): string {
  const postgres = dialect === "postgres";
  const foreign = countPlaceholders(postgres ? "mysql" : "postgres", sql);
  if (!foreign) return "";
  const [style, native, other] = postgres
    ? ["$1, $2 … placeholders", "`$n`", "`?`"]
    : ["? placeholders", "`?`", "`$n`"];
  return ` (${dialect} uses ${style}; got ${got} parameter(s) for a statement with ${expected} ${native} placeholders but ${foreign} ${other})`;
}

/**
 * The number of parameters `sql` binds in `dialect`.
 *
 * @example
 * ```ts ignore
 * countPlaceholders("postgres", "SELECT $2, $1, '$3'"); // 2
 * ```
 */
export function countPlaceholders(dialect: Dialect, sql: string): number {
  let count = 0;
  const n = sql.length;
  for (let i = 0; i < n; i++) {
    const ch = sql[i];
    if (ch === "'" || ch === '"' || ch === "`" || (ch === "[" && dialect === "sqlite")) {
      const close = ch === "[" ? "]" : ch;
      for (i++; i < n && sql[i] !== close; i++) {
        if (sql[i] === "\\" && dialect === "mysql") i++;
      }
    } else if ((ch === "-" && sql[i + 1] === "-") || (ch === "#" && dialect === "mysql")) {
      while (i < n && sql[i] !== "\n") i++;
    } else if (ch === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? n : end + 1;
    } else if (dialect === "postgres" && ch === "$") {
      const m = /^\$(\d+)|^\$([A-Za-z_]\w*)?\$/.exec(sql.slice(i, i + 64));
      if (m?.[1]) {
        count = Math.max(count, Number(m[1]));
        i += m[0].length - 1;
      } else if (m) {
        const end = sql.indexOf(m[0], i + m[0].length);
        i = end < 0 ? n : end + m[0].length - 1;
      }
    } else if (ch === "?" && dialect !== "postgres") {
      const m = dialect === "sqlite" ? /^\?(\d+)/.exec(sql.slice(i, i + 12)) : null;
      count = m ? Math.max(count, Number(m[1])) : count + 1;
    } else if (
      dialect === "sqlite" && (ch === ":" || ch === "@" || ch === "$") &&
      /[A-Za-z_]/.test(sql[i + 1] ?? "") && !/\w/.test(sql[i - 1] ?? "")
    ) {
      throw new DbError(`sqlite: named parameter ${ch}${sql[i + 1]}… is not supported; use ?`, {
        driverCode: "PARAM_NAMED",
      });
    }
  }
  return count;
}

// A five-character SQLSTATE has a digit (42P01, HY000, 08S01); errno
// names such as EPIPE do not.
const SQLSTATE = /^(?=.*\d)[0-9A-Z]{5}$/;

/**
 * Translates an error thrown by a driver into {@linkcode DbError}, keeping
 * the driver's code and the SQLSTATE: the message shows the SQLSTATE for
 * server errors, and the code (e.g. `EPIPE`) for network errors. lunet
 * errors pass through unchanged.
 *
 * @example
 * ```ts ignore
 * try {
 *   await client.query("SELEC 1");
 * } catch (err) {
 *   throw toDbError(err, "query mysql 127.0.0.1:3306/test");
 * }
 * ```
 */
export function toDbError(err: unknown, what: string): Error {
  if (err instanceof LunetError) return err;
  const e = (err ?? {}) as {
    message?: string;
    code?: string | number;
    errno?: string | number;
    sqlState?: string;
    sqlMessage?: string;
    syscall?: string;
  };
  const code = e.code ?? e.errno;
  const sqlState = e.sqlState ??
    (typeof code === "string" && e.syscall === undefined && SQLSTATE.test(code) ? code : undefined);
  let detail = e.sqlMessage ?? e.message ?? String(err);
  if (code === "ECONNREFUSED") detail = "connection refused";
  else if (code === "ECONNRESET") detail = "connection reset";
  else if (sqlState) {
    if (!detail.includes(sqlState)) detail += ` (SQLSTATE ${sqlState})`;
  } else if (typeof code === "string" && !detail.includes(code)) detail += ` (${code})`;
  return new DbError(`${what}: ${detail}`, { driverCode: code, sqlState, cause: err });
}

/** True for lunet's own timeout and cancellation errors. */
function isCancellation(err: unknown): boolean {
  return err instanceof LunetError && (err.code === "cancelled" || err.code === "timeout");
}

/**
 * A bounded pool of connections. Acquirers wait in FIFO order (honouring
 * cancellation and `{ timeout, deadline, signal }`); a connection that an
 * error broke is closed instead of reused, and its slot opens a fresh one.
 *
 * A connection is taken either exclusively (a transaction, or a statement
 * that may write) or shared (a read): up to `pipeline` shared statements
 * may be in flight on one connection at once, for drivers that pipeline. Shared takers prefer an idle
 * connection, then a new one while below `max`, then the least loaded, and
 * queue behind a waiting exclusive taker.
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
  #load = new Map<C, number>();
  #shared = new Set<C>();
  #opening = 0;
  #waiters: Array<{ shared: boolean; wake: (c: C | null) => void }> = [];
  #closed = false;
  #drained: (() => void) | undefined;
  #max: number;
  #pipeline: number;
  #open: () => Promise<C>;
  #close: (c: C) => Promise<void>;
  #alive: ((c: C) => boolean) | undefined;
  #what: string;

  /**
   * @param what names the pool in error messages
   * @param open opens one connection
   * @param close closes one connection
   * @param limits most connections open at once; most shared statements per
   * connection; `alive` tells a dead connection, which is closed instead of
   * handed out or kept
   */
  constructor(
    what: string,
    open: () => Promise<C>,
    close: (c: C) => Promise<void>,
    limits: { max: number; pipeline?: number; alive?: (c: C) => boolean },
  ) {
    const { max, pipeline = 1, alive } = limits;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`${what}: pool size must be a positive integer, got ${max}`);
    }
    this.#max = max;
    this.#pipeline = pipeline;
    this.#open = open;
    this.#close = close;
    this.#alive = alive;
    this.#what = what;
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
  async acquire(opts?: WaitOptions, shared = false): Promise<C> {
    for (;;) {
      if (this.#closed) throw new ClosedError(this.#what);
      checkCancelled(this.#what);
      const c = this.#take(shared, this.size < this.#max);
      if (c !== undefined) return c;
      if (this.size < this.#max) return this.#lend(await this.#grow(opts), shared);
      const busy = this.#take(shared, false);
      if (busy !== undefined) return busy;
      const handed = await park<C | null>(`${this.#what}: wait for a connection`, opts, (wake) => {
        const waiter = { shared, wake };
        this.#waiters.push(waiter);
        return () => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
        };
      });
      if (handed !== null) return handed;
    }
  }

  /** Gives `c` back; `broken` closes it instead, freeing its slot. */
  release(c: C, broken = false): void {
    const load = this.#load.get(c);
    if (load === undefined) return; // already dropped as broken
    if (broken || this.#alive?.(c) === false) return this.#drop(c);
    if (load > 1) {
      this.#load.set(c, load - 1);
      if (this.#waiters[0]?.shared) this.#waiters.shift()!.wake(this.#lend(c, true));
      return;
    }
    this.#load.set(c, 0);
    this.#shared.delete(c);
    if (this.#closed) return this.#drop(c);
    const first = this.#waiters.shift();
    if (!first) {
      this.#idle.push(c);
      return;
    }
    first.wake(this.#lend(c, first.shared));
    while (first.shared && this.#waiters[0]?.shared && this.#load.get(c)! < this.#pipeline) {
      this.#waiters.shift()!.wake(this.#lend(c, true));
    }
  }

  /** Stops handing out connections, wakes waiters with {@linkcode ClosedError}, closes all connections once released. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const w of this.#waiters.splice(0)) w.wake(null);
    }
    const idle = this.#idle.splice(0);
    for (const c of idle) this.#load.delete(c);
    await Promise.all(idle.map((c) => this.#close(c).catch(() => {})));
    if (this.size > 0) await new Promise<void>((resolve) => this.#drained = resolve);
  }

  // An idle connection, else (unless `idleOnly`: a new one may be opened
  // instead) the least loaded shared one.
  #take(shared: boolean, idleOnly: boolean): C | undefined {
    if (shared && this.#waiters.some((w) => !w.shared)) return undefined;
    let idle = this.#idle.pop();
    while (idle !== undefined && this.#alive?.(idle) === false) {
      this.#load.delete(idle);
      this.#close(idle).catch(() => {});
      idle = this.#idle.pop();
    }
    if (idle !== undefined) return this.#lend(idle, shared);
    if (idleOnly || !shared || this.#pipeline < 2) return undefined;
    let best: C | undefined;
    let bestLoad = this.#pipeline;
    for (const c of this.#shared) {
      const load = this.#load.get(c)!;
      if (load < bestLoad) [best, bestLoad] = [c, load];
    }
    return best === undefined ? undefined : this.#lend(best, true);
  }

  #lend(c: C, shared: boolean): C {
    this.#load.set(c, (this.#load.get(c) ?? 0) + 1);
    if (shared && this.#pipeline > 1) this.#shared.add(c);
    return c;
  }

  #drop(c: C): void {
    this.#load.delete(c);
    this.#shared.delete(c);
    this.#close(c).catch(() => {}).finally(() => {
      if (this.size === 0) this.#drained?.();
    });
    this.#waiters.shift()?.wake(null);
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
      if (isCancellation(err)) {
        opening.then((c) => this.release(this.#lend(c, false)), () => {});
      }
      throw err;
    }
  }
}

/** Statements still running after their caller gave up, so close() can wait for them. */
type Pending = Set<Promise<unknown>>;

/**
 * Runs one statement on `c` under the caller's cancellation and options.
 * When the caller gives up first, the server is asked to stop the
 * statement and `done` runs only once it has ended, so the connection is
 * reused in a clean state.
 */
async function runOn<C>(
  connector: Connector<C>,
  c: C,
  kind: Kind,
  sql: string,
  params: unknown[],
  opts: WaitOptions | undefined,
  pending: Pending,
  done?: (broken: boolean) => void,
): Promise<unknown> {
  const what = `${kind === "exec" ? "exec" : "query"} ${connector.label}`;
  const running = connector.run(c, kind, sql, params);
  try {
    const result = await race(what, running, opts);
    done?.(false);
    return result;
  } catch (err) {
    if (!isCancellation(err)) {
      done?.(connector.isBroken(c, err));
      throw toDbError(err, what);
    }
    const cleanup = connector.interrupt(c, running).catch(() => {})
      .then(() => running)
      .then(() => done?.(false), (e) => done?.(connector.isBroken(c, e)));
    pending.add(cleanup);
    cleanup.finally(() => pending.delete(cleanup));
    throw err;
  }
}

/** The `query` / `queryOne` / `exec` surface, over an abstract `run`. */
abstract class Runner implements Queryable {
  protected abstract run(
    kind: Kind,
    sql: string,
    params: unknown[],
    opts?: WaitOptions,
  ): Promise<unknown>;
  protected abstract readonly dialect: Dialect;

  #prepare(kind: Kind, sql: Sql, params: unknown[]): Promise<unknown> {
    try {
      const [text, values, opts] = normalize(sql, params);
      checkParams(this.dialect, text, values);
      return this.run(kind, text, values, opts);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  query<R = Row>(sql: Sql, ...params: unknown[]): Promise<R[]> {
    return this.#prepare("all", sql, params) as Promise<R[]>;
  }

  queryOne<R = Row>(sql: Sql, ...params: unknown[]): Promise<R | null> {
    return this.#prepare("one", sql, params) as Promise<R | null>;
  }

  exec(sql: Sql, ...params: unknown[]): Promise<ExecResult> {
    return this.#prepare("exec", sql, params) as Promise<ExecResult>;
  }

  abstract transaction<T>(
    fn: (tx: Queryable) => T | Promise<T>,
    opts?: TransactionOptions,
  ): Promise<T>;
}

/**
 * One connection taken from the pool for a transaction, and whether any
 * statement on it (the caller's, BEGIN, COMMIT or ROLLBACK) broke it.
 */
class Lease<C> {
  readonly c: C;
  broken = false;
  constructor(c: C) {
    this.c = c;
  }
  /** Called as each statement on the connection settles. */
  readonly settled = (broken: boolean): void => {
    if (broken) this.broken = true;
  };
}

/** A transaction (or savepoint) in progress, bound to one connection. */
class Transaction<C> extends Runner {
  protected readonly dialect: Dialect;
  #connector: Connector<C>;
  #lease: Lease<C>;
  #depth: number;
  #pending: Pending;
  #done = false;

  constructor(connector: Connector<C>, lease: Lease<C>, depth: number, pending: Pending) {
    super();
    this.dialect = connector.dialect;
    this.#connector = connector;
    this.#lease = lease;
    this.#depth = depth;
    this.#pending = pending;
  }

  protected run(kind: Kind, sql: string, params: unknown[], opts?: WaitOptions): Promise<unknown> {
    if (this.#done) {
      return Promise.reject(new ClosedError(`transaction on ${this.#connector.label}`));
    }
    const lease = this.#lease;
    return runOn(this.#connector, lease.c, kind, sql, params, opts, this.#pending, lease.settled);
  }

  transaction<T>(fn: (tx: Queryable) => T | Promise<T>, opts?: TransactionOptions): Promise<T> {
    if (this.#done) {
      return Promise.reject(new ClosedError(`transaction on ${this.#connector.label}`));
    }
    const name = `lunet_sp${this.#depth + 1}`;
    return runTransaction(this.#connector, this.#lease, this.#depth + 1, this.#pending, fn, {
      begin: `SAVEPOINT ${name}`,
      commit: `RELEASE SAVEPOINT ${name}`,
      rollback: `ROLLBACK TO SAVEPOINT ${name}`,
      opts,
    });
  }

  /** Marks the transaction finished; later calls throw {@linkcode ClosedError}. */
  end(): void {
    this.#done = true;
  }
}

/**
 * Runs `fn` between `begin` and `commit`, or `rollback` when it throws.
 * The rollback runs even when the task was cancelled (it is not a wait the
 * task can abandon), so the connection never stays inside a transaction.
 */
async function runTransaction<C, T>(
  connector: Connector<C>,
  lease: Lease<C>,
  depth: number,
  pending: Pending,
  fn: (tx: Queryable) => T | Promise<T>,
  steps: { begin: string; commit: string; rollback: string; opts?: WaitOptions },
): Promise<T> {
  const { c } = lease;
  const quietly = (sql: string) =>
    connector.run(c, "exec", sql, []).then(
      () => {},
      (err) => lease.settled(connector.isBroken(c, err)),
    );
  try {
    await runOn(connector, c, "exec", steps.begin, [], steps.opts, pending, lease.settled);
  } catch (err) {
    // An abandoned BEGIN still runs on the connection: undo it before reuse.
    if (isCancellation(err)) await quietly(steps.rollback);
    throw err;
  }
  const tx = new Transaction(connector, lease, depth, pending);
  let result: T;
  try {
    result = await fn(tx);
  } catch (err) {
    tx.end();
    await quietly(steps.rollback);
    if (steps.rollback.startsWith("ROLLBACK TO")) await quietly(steps.commit);
    throw err;
  }
  tx.end();
  // Once `fn` has returned, the commit is not abandoned by a cancellation.
  try {
    await connector.run(c, "exec", steps.commit, []);
  } catch (err) {
    lease.settled(connector.isBroken(c, err));
    await quietly(steps.rollback);
    throw toDbError(err, `commit ${connector.label}`);
  }
  return result;
}

/**
 * Pool settings of {@linkcode PooledDb}.
 *
 * @example
 * ```ts ignore
 * const opts: PoolOptions = { max: 1, readers: 2 };
 * ```
 */
export interface PoolOptions {
  /** Connections for writes and transactions (and reads without a reader pool). */
  max: number;
  /** Reader connections for `SELECT`s; 0 routes every statement to the main pool. */
  readers?: number;
}

const READ = /^\s*(?:select|values|with)\b/i;
const WRITE = /\b(?:insert|update|delete|replace)\b/i;

/** True for statements a read-only connection can run: SELECT, VALUES, WITH without DML. */
function isRead(sql: string): boolean {
  return READ.test(sql) && (!/^\s*with/i.test(sql) || !WRITE.test(sql));
}

/**
 * The {@linkcode Db} of every driver: pooled connections from a
 * {@linkcode Connector}, statements run under the caller's cancellation and
 * options, transactions with savepoints. With a reader pool, plain
 * `SELECT`s run there while everything else is serialized on the main pool.
 *
 * @example
 * ```ts ignore
 * const db: Db = await new PooledDb("mysql", connector, { max: 10 }).start();
 * ```
 */
export class PooledDb<C> extends Runner implements Db {
  readonly driver: Db["driver"];
  protected readonly dialect: Dialect;
  #connector: Connector<C>;
  #main: Pool<C>;
  #readers: Pool<C> | undefined;
  #pending: Pending = new Set();
  #closed = false;
  #closing: Promise<void> | undefined;

  /**
   * @param driver the driver's name
   * @param connector how to open and use a connection
   * @param pool pool sizes
   */
  constructor(driver: Db["driver"], connector: Connector<C>, pool: PoolOptions) {
    super();
    this.driver = driver;
    this.dialect = connector.dialect;
    this.#connector = connector;
    const close = (c: C) => connector.disconnect(c);
    const pipeline = connector.pipeline;
    const alive = connector.alive && ((c: C) => connector.alive!(c));
    this.#main = new Pool(connector.label, () => connector.connect(false), close, {
      max: pool.max,
      pipeline,
      alive,
    });
    if (pool.readers) {
      this.#readers = new Pool(connector.label, () => connector.connect(true), close, {
        max: pool.readers,
        pipeline,
        alive,
      });
    }
  }

  /** Opens the first connection, so `open()` reports a bad configuration at once. */
  async start(opts?: WaitOptions): Promise<this> {
    try {
      this.#main.release(await this.#main.acquire(opts));
    } catch (err) {
      await this.close();
      throw toDbError(err, `connect ${this.#connector.label}`);
    }
    return this;
  }

  get closed(): boolean {
    return this.#closed;
  }

  protected run(kind: Kind, sql: string, params: unknown[], opts?: WaitOptions): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ClosedError(this.#connector.label));
    // One budget from the call: waiting for a connection and running share it.
    try {
      opts = budget(opts);
    } catch (err) {
      return Promise.reject(err);
    }
    // Reads may share a connection (pipelined); a statement that may write
    // waits for a connection of its own, so one given up while it waits is
    // never sent.
    const read = kind !== "exec" && isRead(sql);
    const pool = this.#readers && read ? this.#readers : this.#main;
    const connect = () =>
      pool.acquire(opts, read).then((c) => start(c, pool.size), (err) => {
        throw toDbError(err, `connect ${this.#connector.label}`);
      });
    // Each retryable failure closes its connection, so the retries are
    // bounded by the pool's size.
    const start = (c: C, retries: number): Promise<unknown> =>
      runOn(this.#connector, c, kind, sql, params, opts, this.#pending, (broken) => {
        pool.release(c, broken);
      }).catch((err) => {
        const cause = (err as Error).cause ?? err;
        if (retries > 0 && this.#connector.retryable?.(cause, read)) return connect();
        throw err;
      });
    // Fast path: a free connection and nothing to cancel yet.
    const free = opts || current()?.cancelled ? undefined : pool.tryAcquire(read);
    if (free !== undefined) return start(free, pool.size);
    return connect();
  }

  async transaction<T>(
    fn: (tx: Queryable) => T | Promise<T>,
    opts?: TransactionOptions,
  ): Promise<T> {
    if (this.#closed) throw new ClosedError(this.#connector.label);
    const wait = budget(opts);
    const lease = new Lease(await this.#acquire(this.#main, wait));
    try {
      return await runTransaction(this.#connector, lease, 0, this.#pending, fn, {
        begin: this.#connector.begin(opts?.mode),
        commit: "COMMIT",
        rollback: "ROLLBACK",
        opts: wait,
      });
    } finally {
      this.#main.release(lease.c, lease.broken);
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    return this.#closing ??= (async () => {
      await Promise.all(this.#pending);
      await Promise.all([this.#main.close(), this.#readers?.close()]);
    })();
  }

  async #acquire(pool: Pool<C>, opts?: WaitOptions, shared = false): Promise<C> {
    try {
      return await pool.acquire(opts, shared);
    } catch (err) {
      throw toDbError(err, `connect ${this.#connector.label}`);
    }
  }
}

/**
 * Merges a connection URL with explicit settings and the driver's
 * defaults.
 *
 * @example
 * ```ts ignore
 * resolveServerConfig({ url: "postgres://u:p@h:5433/db", pool: 4 }, { port: 5432, user: "postgres" });
 * // { host: "h", port: 5433, user: "u", password: "p", database: "db", pool: 4, connectTimeout: 10000 }
 * ```
 */
export function resolveServerConfig(
  config: ServerConfig | string,
  defaults: { port: number; user: string },
): ResolvedServerConfig {
  const cfg = typeof config === "string" ? { url: config } : config;
  const url = cfg.url ? new URL(cfg.url) : undefined;
  const dec = (s: string | undefined) => (s ? decodeURIComponent(s) : undefined);
  const database = cfg.database ?? dec(url?.pathname.slice(1));
  const pool = cfg.pool ?? Number(url?.searchParams.get("pool") ?? 10);
  return {
    host: cfg.host ?? (url?.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1"),
    port: cfg.port ?? (url?.port ? Number(url.port) : defaults.port),
    user: cfg.user ?? dec(url?.username) ?? defaults.user,
    password: cfg.password ?? dec(url?.password) ?? "",
    database: database || "",
    pool,
    connectTimeout: cfg.connectTimeout ?? 10_000,
  };
}

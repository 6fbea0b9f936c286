/**
 * The public types of the database API: rows, statements, results,
 * the {@linkcode Db} and {@linkcode Queryable} interfaces, server and
 * pool settings, and the {@linkcode Connector} a driver provides.
 *
 * @module
 */
import type { WaitOptions } from "../src/_wait.ts";

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
 *   driver: "mysql",
 *   schemes: ["mysql:"],
 *   port: 3306,
 *   user: "root",
 *   socketParam: "socket",
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

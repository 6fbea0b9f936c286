/**
 * The {@linkcode Db} every driver returns: a {@linkcode Connector} behind
 * a main pool and an optional reader pool.
 *
 * @module
 */
import { ClosedError } from "../src/errors.ts";
import { budget, current, type WaitOptions } from "../src/_wait.ts";
import { toDbError } from "./_errors.ts";
import { Pool } from "./_pool.ts";
import { Lease, type Pending, Runner, runOn, runTransaction } from "./_statement.ts";
import type {
  Connector,
  Db,
  Dialect,
  Kind,
  PoolOptions,
  Queryable,
  TransactionOptions,
} from "./_types.ts";

const READ = /^\s*(?:select|values|with)\b/i;
const WRITE = /\b(?:insert|update|delete|replace)\b/i;

/**
 * True for statements a read-only connection can run: SELECT, VALUES, WITH without DML.
 *
 * @example
 * ```ts ignore
 * isRead("SELECT * FROM t"); // true
 * isRead("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x"); // false
 * ```
 */
export function isRead(sql: string): boolean {
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

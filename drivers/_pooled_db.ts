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
import { type SqlShape, SqlShapes } from "./_sql_shape.ts";
import {
  Lease,
  Owner,
  type Restart,
  runFrom,
  Runner,
  runOn,
  runTransaction,
} from "./_statement.ts";
import type {
  Connector,
  Db,
  Dialect,
  Kind,
  PoolOptions,
  Queryable,
  TransactionOptions,
} from "./_types.ts";

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
  protected readonly shapes: SqlShapes;
  #connector: Connector<C>;
  #owner: Owner<C>;
  #main: Pool<C>;
  #readers: Pool<C> | undefined;
  #connectWhat: string;
  #closed = false;
  #closing: Promise<void> | undefined;

  /**
   * @param driver the driver's name
   * @param connector how to open and use a connection
   * @param pool pool sizes, and how long a reader connection may stay idle
   * before it is closed (ms; default 0, never)
   */
  constructor(
    driver: Db["driver"],
    connector: Connector<C>,
    pool: PoolOptions & { readerIdleTimeout?: number },
  ) {
    super();
    this.driver = driver;
    this.dialect = connector.dialect;
    this.shapes = new SqlShapes(connector.dialect);
    this.#connector = connector;
    this.#owner = new Owner(connector, this.shapes);
    this.#connectWhat = `connect ${connector.label}`;
    const close = (c: C) => connector.disconnect(c);
    const pipeline = connector.pipeline;
    const alive = connector.alive?.bind(connector);
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
        idleTimeout: pool.readerIdleTimeout,
      });
    }
  }

  /** Opens the first connection, so `open()` reports a bad configuration at once. */
  async start(opts?: WaitOptions): Promise<this> {
    try {
      this.#main.release(await this.#main.acquire(opts));
    } catch (err) {
      await this.close();
      throw toDbError(err, this.#connectWhat);
    }
    return this;
  }

  get closed(): boolean {
    return this.#closed;
  }

  protected run(
    kind: Kind,
    sql: string,
    params: unknown[],
    opts: WaitOptions | undefined,
    shape: SqlShape,
  ): Promise<unknown> {
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
    const read = kind !== "exec" && shape.read;
    const pool = this.#readers && read ? this.#readers : this.#main;
    // The common case, a task without options: a free connection, or a
    // place in the pool's queue.
    const task = opts === undefined ? current() : undefined;
    if (task !== undefined && !task.cancelled) {
      const running = runFrom(this.#owner, pool, kind, sql, params, task, read, this.#restart);
      if (running !== undefined) return running;
    } else if (opts === undefined && task === undefined) {
      const free = pool.tryAcquire(read);
      if (free !== undefined) {
        return runOn(this.#owner, free, kind, sql, params, opts, pool, this.#restart);
      }
    }
    return this.#connect(kind, sql, params, opts, read);
  }

  // How a statement starts over: again after a failure the connector
  // allows (each closes its connection, so the retries are bounded by the
  // pool's size), or once a connection has been found.
  readonly #restart: Restart = {
    again: (err, kind, sql, params, opts) => {
      const read = kind !== "exec" && this.shapes.of(sql).read;
      if (!this.#connector.retryable?.(err, read)) return undefined;
      return this.#connect(kind, sql, params, opts, read);
    },
    connect: (kind, sql, params) =>
      this.#connect(kind, sql, params, undefined, kind !== "exec" && this.shapes.of(sql).read),
  };

  #connect(
    kind: Kind,
    sql: string,
    params: unknown[],
    opts: WaitOptions | undefined,
    read: boolean,
  ): Promise<unknown> {
    const pool = this.#readers && read ? this.#readers : this.#main;
    return pool.acquire(opts, read).then(
      (c) => runOn(this.#owner, c, kind, sql, params, opts, pool, this.#restart),
      (err) => {
        throw toDbError(err, this.#connectWhat);
      },
    );
  }

  async transaction<T>(
    fn: (tx: Queryable) => T | Promise<T>,
    opts?: TransactionOptions,
  ): Promise<T> {
    if (this.#closed) throw new ClosedError(this.#connector.label);
    const wait = budget(opts);
    const lease = new Lease(await this.#acquire(this.#main, wait));
    try {
      return await runTransaction(this.#owner, lease, 0, fn, {
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
      await Promise.all(this.#owner.pending);
      await Promise.all([this.#main.close(), this.#readers?.close()]);
    })();
  }

  async #acquire(pool: Pool<C>, opts?: WaitOptions, shared = false): Promise<C> {
    try {
      return await pool.acquire(opts, shared);
    } catch (err) {
      throw toDbError(err, this.#connectWhat);
    }
  }
}

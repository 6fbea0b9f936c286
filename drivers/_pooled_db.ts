/**
 * The {@linkcode Db} every driver returns: a {@linkcode Connector} behind
 * a main pool and an optional reader pool, and its transactions with
 * savepoints.
 *
 * @module
 */
import { ClosedError } from "../src/errors.ts";
import { budget, current, isEarlyWake, type WaitOptions } from "../src/_wait.ts";
import { toDbError } from "./_errors.ts";
import { Pool } from "./_pool.ts";
import { type SqlShape, SqlShapes } from "./_sql_shape.ts";
import { Owner, type Restart, runFrom, Runner, runOn } from "./_statement.ts";
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

/**
 * One connection taken from the pool for a transaction, and whether any
 * statement on it (the caller's, BEGIN, COMMIT or ROLLBACK) broke it.
 *
 * @example
 * ```ts ignore
 * const lease = new Lease(await pool.acquire());
 * pool.release(lease.c, lease.broken);
 * ```
 */
class Lease<C> {
  readonly c: C;
  broken = false;
  constructor(c: C) {
    this.c = c;
  }
  /** Called as each statement on the connection settles. */
  release(_c: C, broken: boolean): void {
    if (broken) this.broken = true;
  }
}

/** A transaction (or savepoint) in progress, bound to one connection. */
class Transaction<C> extends Runner {
  protected readonly dialect: Dialect;
  protected readonly shapes: SqlShapes;
  #owner: Owner<C>;
  #lease: Lease<C>;
  #depth: number;
  #done = false;

  constructor(owner: Owner<C>, lease: Lease<C>, depth: number) {
    super();
    this.dialect = owner.connector.dialect;
    this.shapes = owner.shapes;
    this.#owner = owner;
    this.#lease = lease;
    this.#depth = depth;
  }

  protected run(kind: Kind, sql: string, params: unknown[], opts?: WaitOptions): Promise<unknown> {
    if (this.#done) {
      return Promise.reject(new ClosedError(`transaction on ${this.#owner.connector.label}`));
    }
    const lease = this.#lease;
    return runOn(this.#owner, lease.c, kind, sql, params, opts, lease);
  }

  transaction<T>(fn: (tx: Queryable) => T | Promise<T>, opts?: TransactionOptions): Promise<T> {
    if (this.#done) {
      return Promise.reject(new ClosedError(`transaction on ${this.#owner.connector.label}`));
    }
    const name = `lunet_sp${this.#depth + 1}`;
    return runTransaction(this.#owner, this.#lease, this.#depth + 1, fn, {
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
 *
 * @example
 * ```ts ignore
 * await runTransaction(owner, lease, 0, fn, {
 *   begin: "BEGIN",
 *   commit: "COMMIT",
 *   rollback: "ROLLBACK",
 * });
 * ```
 */
async function runTransaction<C, T>(
  owner: Owner<C>,
  lease: Lease<C>,
  depth: number,
  fn: (tx: Queryable) => T | Promise<T>,
  steps: { begin: string; commit: string; rollback: string; opts?: WaitOptions },
): Promise<T> {
  const { c } = lease;
  const connector = owner.connector;
  const quietly = (sql: string) =>
    connector.run(c, "exec", sql, []).then(
      () => {},
      (err) => lease.release(c, connector.isBroken(c, err)),
    );
  try {
    await runOn(owner, c, "exec", steps.begin, [], steps.opts, lease);
  } catch (err) {
    // An abandoned BEGIN still runs on the connection: undo it before reuse.
    if (isEarlyWake(err)) await quietly(steps.rollback);
    throw err;
  }
  const tx = new Transaction(owner, lease, depth);
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
    lease.release(c, connector.isBroken(c, err));
    await quietly(steps.rollback);
    throw toDbError(err, `commit ${connector.label}`);
  }
  return result;
}

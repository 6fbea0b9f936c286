/**
 * Statements and transactions on one connection: the `query` / `queryOne` /
 * `exec` surface, cancellation of a running statement, and savepoints.
 *
 * @module
 */
import { ClosedError } from "../src/errors.ts";
import { isEarlyWake, race, type WaitOptions } from "../src/_wait.ts";
import { toDbError } from "./_errors.ts";
import { checkParams } from "./_params.ts";
import type { SqlShape, SqlShapes } from "./_sql_shape.ts";
import type {
  Connector,
  Dialect,
  ExecResult,
  Kind,
  Queryable,
  Row,
  Sql,
  TransactionOptions,
} from "./_types.ts";

/**
 * Statements still running after their caller gave up, so close() can wait for them.
 *
 * @example
 * ```ts ignore
 * const pending: Pending = new Set();
 * ```
 */
export type Pending = Set<Promise<unknown>>;

/**
 * What every statement of one database shares: its connector, the
 * statements still running after their caller gave up, the shapes of the
 * texts it has run, and the names its messages give.
 *
 * @example
 * ```ts ignore
 * const owner = new Owner(connector);
 * await runOn(owner, c, "all", "SELECT 1", [], undefined);
 * ```
 */
export class Owner<C> {
  readonly connector: Connector<C>;
  readonly pending: Pending = new Set();
  readonly shapes: SqlShapes;
  /** `query <label>`, for messages. */
  readonly queryWhat: string;
  /** `exec <label>`, for messages. */
  readonly execWhat: string;

  /**
   * @param connector how to use a connection
   * @param shapes the shapes of statement texts, per dialect
   */
  constructor(connector: Connector<C>, shapes: SqlShapes) {
    this.connector = connector;
    this.shapes = shapes;
    this.queryWhat = `query ${connector.label}`;
    this.execWhat = `exec ${connector.label}`;
  }
}

/**
 * Runs one statement on `c` under the caller's cancellation and options.
 * When the caller gives up first, the server is asked to stop the
 * statement and `done` runs only once it has ended, so the connection is
 * reused in a clean state.
 *
 * @example
 * ```ts ignore
 * await runOn(owner, c, "all", "SELECT 1", [], undefined, (broken) => pool.release(c, broken));
 * ```
 */
export function runOn<C>(
  owner: Owner<C>,
  c: C,
  kind: Kind,
  sql: string,
  params: unknown[],
  opts: WaitOptions | undefined,
  done?: (broken: boolean) => void,
): Promise<unknown> {
  const connector = owner.connector;
  const what = kind === "exec" ? owner.execWhat : owner.queryWhat;
  let running: Promise<unknown>;
  try {
    running = connector.run(c, kind, sql, params);
  } catch (err) {
    running = Promise.reject(err);
  }
  let waiting: Promise<unknown>;
  try {
    waiting = race(what, running, opts);
  } catch (err) {
    waiting = Promise.reject(err); // bad options (a negative timeout): fails as a statement error
  }
  return waiting.then((result) => {
    done?.(false);
    return result;
  }, (err) => {
    if (!isEarlyWake(err)) {
      done?.(connector.isBroken(c, err));
      throw toDbError(err, what);
    }
    const cleanup = connector.interrupt(c, running).catch(() => {})
      .then(() => running)
      .then(() => done?.(false), (e) => done?.(connector.isBroken(c, e)));
    owner.pending.add(cleanup);
    cleanup.finally(() => owner.pending.delete(cleanup));
    throw err;
  });
}

/**
 * The `query` / `queryOne` / `exec` surface, over an abstract `run`.
 *
 * @example
 * ```ts ignore
 * class Direct extends Runner {
 *   protected readonly dialect = "sqlite";
 *   protected readonly shapes = new SqlShapes("sqlite");
 *   protected run(kind: Kind, sql: string, params: unknown[]) {
 *     return connector.run(c, kind, sql, params);
 *   }
 *   transaction() {
 *     throw new Error("unsupported");
 *   }
 * }
 * ```
 */
export abstract class Runner implements Queryable {
  /** Runs a checked statement; `shape` is what its text says. */
  protected abstract run(
    kind: Kind,
    sql: string,
    params: unknown[],
    opts: WaitOptions | undefined,
    shape: SqlShape,
  ): Promise<unknown>;
  protected abstract readonly dialect: Dialect;
  protected abstract readonly shapes: SqlShapes;

  #prepare(kind: Kind, sql: Sql, params: unknown[]): Promise<unknown> {
    try {
      let text: string, values: unknown[], opts: WaitOptions | undefined;
      if (typeof sql === "string") {
        text = sql;
        values = params;
      } else {
        if (params.length) {
          throw new TypeError(
            "pass parameters either in the statement object or as arguments, not both",
          );
        }
        text = sql.sql;
        values = sql.params ?? [];
        opts = sql;
      }
      const shape = this.shapes.of(text);
      checkParams(this.dialect, text, values, shape.placeholders);
      return this.run(kind, text, values, opts, shape);
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
 *
 * @example
 * ```ts ignore
 * const lease = new Lease(await pool.acquire());
 * pool.release(lease.c, lease.broken);
 * ```
 */
export class Lease<C> {
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
    return runOn(this.#owner, lease.c, kind, sql, params, opts, lease.settled);
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
export async function runTransaction<C, T>(
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
      (err) => lease.settled(connector.isBroken(c, err)),
    );
  try {
    await runOn(owner, c, "exec", steps.begin, [], steps.opts, lease.settled);
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
    lease.settled(connector.isBroken(c, err));
    await quietly(steps.rollback);
    throw toDbError(err, `commit ${connector.label}`);
  }
  return result;
}

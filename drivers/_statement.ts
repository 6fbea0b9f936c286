/**
 * Statements and transactions on one connection: the `query` / `queryOne` /
 * `exec` surface, cancellation of a running statement, and savepoints.
 *
 * @module
 */
import { ClosedError } from "../src/errors.ts";
import { isEarlyWake, race, type WaitOptions } from "../src/_wait.ts";
import { toDbError } from "./_errors.ts";
import { checkParams, normalize } from "./_params.ts";
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
 * Runs one statement on `c` under the caller's cancellation and options.
 * When the caller gives up first, the server is asked to stop the
 * statement and `done` runs only once it has ended, so the connection is
 * reused in a clean state.
 *
 * @example
 * ```ts ignore
 * await runOn(connector, c, "all", "SELECT 1", [], undefined, pending, (broken) => pool.release(c, broken));
 * ```
 */
export async function runOn<C>(
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
    if (!isEarlyWake(err)) {
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

/**
 * The `query` / `queryOne` / `exec` surface, over an abstract `run`.
 *
 * @example
 * ```ts ignore
 * class Direct extends Runner {
 *   protected readonly dialect = "sqlite";
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
 *
 * @example
 * ```ts ignore
 * await runTransaction(connector, lease, 0, pending, fn, {
 *   begin: "BEGIN",
 *   commit: "COMMIT",
 *   rollback: "ROLLBACK",
 * });
 * ```
 */
export async function runTransaction<C, T>(
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
    if (isEarlyWake(err)) await quietly(steps.rollback);
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

/**
 * Statements on one connection: the `query` / `queryOne` / `exec` surface,
 * and a statement's life under the caller's cancellation and options, from
 * its wait for a connection to its end.
 *
 * @module
 */
import { offCancel, onCancel, type Task } from "../src/task.ts";
import { cancellationError, current, isEarlyWake, race, type WaitOptions } from "../src/_wait.ts";
import { toDbError } from "./_errors.ts";
import { checkParams } from "./_params.ts";
import type { Pool, Waiter } from "./_pool.ts";
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
 * await runOn(owner, c, "all", "SELECT 1", [], undefined, pool);
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
 * What is told once a statement on a connection has ended: the pool the
 * connection goes back to, or the transaction's lease.
 *
 * @example
 * ```ts ignore
 * const done: Release<Conn> = { release: (c, broken) => console.log(c, broken) };
 * ```
 */
export interface Release<C> {
  /** Called once with `c` as the statement ends; `broken`: the connection is unusable. */
  release(c: C, broken: boolean): void;
}

/**
 * How a pooled statement starts over: on a fresh connection after a
 * failure that allows it, or looking again for a connection after its pool
 * lost one or was closed while it waited.
 *
 * @example
 * ```ts ignore
 * const restart: Restart = {
 *   again: (err, kind, sql, params, opts) => undefined, // every error stands
 *   connect: (kind, sql, params) => db.query(sql, ...params),
 * };
 * ```
 */
export interface Restart {
  /** The statement run again after `err`, or `undefined` when `err` stands. */
  again(
    err: unknown,
    kind: Kind,
    sql: string,
    params: unknown[],
    opts: WaitOptions | undefined,
  ): Promise<unknown> | undefined;
  /** The statement run once a connection has been found. */
  connect(kind: Kind, sql: string, params: unknown[]): Promise<unknown>;
}

/**
 * Runs one statement on `c` under the caller's cancellation and options.
 * When the caller gives up first, the server is asked to stop the
 * statement and `done` is told only once it has ended, so the connection
 * is reused in a clean state. A failure `restart` allows runs it again.
 *
 * @example
 * ```ts ignore
 * await runOn(owner, c, "all", "SELECT 1", [], undefined, pool);
 * ```
 */
export function runOn<C>(
  owner: Owner<C>,
  c: C,
  kind: Kind,
  sql: string,
  params: unknown[],
  opts: WaitOptions | undefined,
  done?: Release<C>,
  restart?: Restart,
): Promise<unknown> {
  const task = opts === undefined ? current() : undefined;
  // The common case, a task without options: one promise, no race.
  if (task !== undefined && !task.cancelled) {
    const w = new Watch(owner, kind, sql, params, false, done, restart, watchesOf(task));
    return w.start(c);
  }
  const connector = owner.connector;
  const what = kind === "exec" ? owner.execWhat : owner.queryWhat;
  const running = send(owner, c, kind, sql, params);
  let waiting: Promise<unknown>;
  try {
    waiting = race(what, running, opts);
  } catch (err) {
    waiting = Promise.reject(err); // bad options (a negative timeout): fails as a statement error
  }
  return waiting.then((result) => {
    done?.release(c, false);
    return result;
  }, (err) => {
    if (!isEarlyWake(err)) {
      done?.release(c, connector.isBroken(c, err));
      const again = restart?.again(err, kind, sql, params, opts);
      if (again !== undefined) return again;
      throw toDbError(err, what);
    }
    interrupt(owner, c, running, done);
    throw err;
  });
}

/**
 * Runs one statement from `pool` in `task` (not cancelled, no options):
 * on a connection free now, or queued in the pool until one is, with no
 * promise of its own while it waits. `undefined` when the pool can open a
 * connection or is closed: {@linkcode Pool.acquire} instead.
 *
 * @example
 * ```ts ignore
 * const running = runFrom(owner, pool, "all", "SELECT 1", [], task, true, restart);
 * ```
 */
export function runFrom<C>(
  owner: Owner<C>,
  pool: Pool<C>,
  kind: Kind,
  sql: string,
  params: unknown[],
  // deno-lint-ignore no-explicit-any
  task: Task<any>,
  shared: boolean,
  restart: Restart,
): Promise<unknown> | undefined {
  const free = pool.tryAcquire(shared);
  const w = new Watch(owner, kind, sql, params, shared, pool, restart, watchesOf(task));
  if (free !== undefined) return w.start(free);
  if (!pool.queue(w)) return undefined;
  w.queuedIn = pool;
  return w.begin();
}

/** The result of a statement on `c`, or its failure: never a throw. */
function send<C>(owner: Owner<C>, c: C, kind: Kind, sql: string, params: unknown[]) {
  try {
    return owner.connector.run(c, kind, sql, params);
  } catch (err) {
    return Promise.reject(err);
  }
}

function ignore(): void {}

/**
 * One statement a task waits for without options, from its wait for a
 * connection (if any) until it ends or the task is cancelled.
 */
class Watch<C> implements Waiter<C> {
  /** Set once it ended or was given up. */
  over = false;
  /** The pool it waits in for a connection, if it does. */
  queuedIn: Pool<C> | undefined = undefined;
  c: C | undefined = undefined;
  running: Promise<unknown> | undefined = undefined;
  resolve: (value: unknown) => void = ignore;
  reject: (err: unknown) => void = ignore;

  constructor(
    readonly owner: Owner<C>,
    readonly kind: Kind,
    readonly sql: string,
    readonly params: unknown[],
    readonly shared: boolean,
    readonly done: Release<C> | undefined,
    readonly restart: Restart | undefined,
    readonly all: TaskWatches,
  ) {}

  get what(): string {
    return this.kind === "exec" ? this.owner.execWhat : this.owner.queryWhat;
  }

  /** Its promise, watched by the task from now on. */
  begin(): Promise<unknown> {
    this.all.add(this);
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** Runs it on `c`; its promise. */
  start(c: C): Promise<unknown> {
    const settled = this.begin();
    this.run(c);
    return settled;
  }

  /** Lent `c` by the pool it waited in, or (`null`) told to look again. */
  wake(c: C | null): void {
    this.queuedIn = undefined;
    if (c !== null) return this.run(c);
    this.over = true;
    this.all.ended();
    this.resolve(this.restart!.connect(this.kind, this.sql, this.params));
  }

  run(c: C): void {
    this.c = c;
    const running = this.running = send(this.owner, c, this.kind, this.sql, this.params);
    running.then((result) => this.ended(result), (err) => this.failed(err));
  }

  ended(result: unknown): void {
    if (this.over) return;
    this.over = true;
    this.all.ended();
    this.done?.release(this.c!, false);
    this.resolve(result);
  }

  failed(err: unknown): void {
    if (this.over) return;
    this.over = true;
    this.all.ended();
    if (isEarlyWake(err)) return this.giveUp(err);
    const c = this.c!;
    this.done?.release(c, this.owner.connector.isBroken(c, err));
    const again = this.restart?.again(err, this.kind, this.sql, this.params, undefined);
    if (again !== undefined) this.resolve(again);
    else this.reject(toDbError(err, this.what));
  }

  /** Gives it up with `err`: it leaves the pool's queue, or the server is asked to stop it. */
  giveUp(err: unknown): void {
    this.over = true;
    this.reject(err);
    const queuedIn = this.queuedIn;
    if (queuedIn !== undefined) {
      this.queuedIn = undefined;
      queuedIn.unqueue(this);
    } else interrupt(this.owner, this.c!, this.running!, this.done);
  }
}

/**
 * The statements in flight in one task, behind a single cancel waker
 * (registered while any is in flight): one waker per statement made each
 * statement pay for adding to and deleting from the task's set of them.
 * Ended statements are dropped when none is left, or in bulk once they
 * outnumber the live ones, so a task never without one stays bounded.
 */
class TaskWatches {
  // deno-lint-ignore no-explicit-any
  readonly #task: Task<any>;
  // deno-lint-ignore no-explicit-any
  #items: Watch<any>[] = [];
  #live = 0;

  // deno-lint-ignore no-explicit-any
  constructor(task: Task<any>) {
    this.#task = task;
  }

  readonly #wake = (reason: unknown): void => {
    const items = this.#items;
    this.#items = [];
    this.#live = 0;
    for (const w of items) if (!w.over) w.giveUp(cancellationError(w.what, reason));
  };

  // deno-lint-ignore no-explicit-any
  add(w: Watch<any>): void {
    if (this.#live++ === 0) onCancel(this.#task, this.#wake);
    this.#items.push(w);
  }

  /** Called as one of them ends (already marked `over`). */
  ended(): void {
    if (--this.#live === 0) {
      offCancel(this.#task, this.#wake);
      this.#items.length = 0;
    } else if (this.#items.length > 64 && this.#items.length > 4 * this.#live) {
      this.#items = this.#items.filter((w) => !w.over);
    }
  }
}

// deno-lint-ignore no-explicit-any
const watches = new WeakMap<Task<any>, TaskWatches>();

/** The statements in flight in `task`, behind its one cancel waker. */
// deno-lint-ignore no-explicit-any
function watchesOf(task: Task<any>): TaskWatches {
  let all = watches.get(task);
  if (all === undefined) watches.set(task, all = new TaskWatches(task));
  return all;
}

/** Stops a statement its caller gave up on; `done` is told once it has ended. */
function interrupt<C>(
  owner: Owner<C>,
  c: C,
  running: Promise<unknown>,
  done: Release<C> | undefined,
): void {
  const connector = owner.connector;
  const cleanup = connector.interrupt(c, running).catch(() => {})
    .then(() => running)
    .then(() => done?.release(c, false), (e) => done?.release(c, connector.isBroken(c, e)));
  owner.pending.add(cleanup);
  cleanup.finally(() => owner.pending.delete(cleanup));
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
      } else if (typeof sql !== "object" || sql === null || typeof sql.sql !== "string") {
        throw new TypeError(
          `${
            kind === "exec" ? "exec" : "query"
          }: the statement must be a string or { sql, params }, got ${
            sql === null ? "null" : typeof sql
          }`,
        );
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

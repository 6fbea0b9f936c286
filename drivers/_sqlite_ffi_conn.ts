/**
 * One SQLite connection of the ffi engine: the system library called
 * through `Deno.dlopen`, with no worker isolate.
 *
 * A read (`SELECT`, `VALUES`, `WITH` that `sqlite3_stmt_readonly` calls
 * read-only) first runs on the event loop's thread, where it costs a few
 * direct calls per row, under a time budget watched by SQLite's progress
 * handler: one that runs past it is stopped (a read can be stopped without
 * effect) and runs again on a runtime thread, one `nonblocking` step per
 * row, and so do its next few runs. Every other statement (writes,
 * transaction control, `PRAGMA`s) and every wait on a lock runs on a
 * runtime thread, so neither a slow statement nor another process's lock
 * stalls the event loop for longer than the budget. Statements on one
 * connection run in call order; those that arrive while one runs off the
 * loop queue behind it. A statement running off the loop can be stopped
 * with `sqlite3_interrupt`.
 *
 * @module
 */
import { traceClose, traceOpen } from "../src/trace.ts";
import {
  DB_CONFIG_CALLABLE,
  DBCONFIG_DQS_DDL,
  DBCONFIG_DQS_DML,
  DBCONFIG_ENABLE_ATTACH_WRITE,
  LIMIT_ATTACHED,
  OPEN_CREATE,
  OPEN_FULLMUTEX,
  OPEN_READONLY,
  OPEN_READWRITE,
  SQLITE_DONE,
  SQLITE_INTERRUPT,
  SQLITE_OK,
  SQLITE_ROW,
  type SqliteSymbols,
} from "./_sqlite_ffi_lib.ts";
import { OFF_LOOP, type Prepared, Statements } from "./_sqlite_ffi_statements.ts";
import { bindParams, readRow, sqliteError } from "./_sqlite_ffi_values.ts";
import { inserts, severalStatements } from "./_sqlite_sql.ts";
import type { ExecResult, Kind, Row } from "./_types.ts";

// VM instructions between two looks at the clock while a read runs inline.
const PROGRESS_STEPS = 4000;
// An inline read's slices between two yields through a timer.
const TIMER_EVERY = 3;
// Runs of a statement that go straight off the loop after it overran.
const OFF_LOOP_RUNS = 8;

/** A read stepped on the event loop's thread, paused between two rows. */
class InlineRun {
  readonly p: Prepared;
  readonly kind: Kind;
  readonly rows: Row[] = [];
  /** Slices run so far. */
  slices = 0;

  constructor(p: Prepared, kind: Kind) {
    this.p = p;
    this.kind = kind;
  }
}

interface Job {
  kind: Kind;
  sql: string;
  params: unknown[];
  /** The read's inline run, when it paused to let the event loop turn. */
  run: InlineRun | undefined;
  /** Its caller gave up while it was paused. */
  givenUp: boolean;
  promise: Promise<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/**
 * A connection of the ffi engine. Open one with {@linkcode FfiConn.open}.
 *
 * @example
 * ```ts ignore
 * const conn = await FfiConn.open(lib, "app.db", { readOnly: false, busyTimeout: 5000, budget: 2, label });
 * console.log(await conn.statement("all", "SELECT 1 AS n", []));
 * await conn.close();
 * ```
 */
export class FfiConn {
  readonly #lib: SqliteSymbols;
  readonly #db: Deno.PointerObject;
  readonly #busyTimeout: number;
  readonly #budget: number;
  readonly #statements: Statements;
  readonly #progress: Deno.UnsafeCallback<{ parameters: ["pointer"]; result: "i32" }>;
  readonly #trace: number;
  #scratch = new Uint8Array(1024);
  #deadline = 0;
  #overran = false;
  #queue: Job[] = [];
  #active: Job | undefined;
  #dead: Error | undefined;
  #closing: Promise<void> | undefined;

  private constructor(
    lib: SqliteSymbols,
    db: Deno.PointerObject,
    busyTimeout: number,
    budget: number,
    label: string,
  ) {
    this.#lib = lib;
    this.#db = db;
    this.#busyTimeout = busyTimeout;
    this.#budget = budget;
    this.#progress = new Deno.UnsafeCallback(
      { parameters: ["pointer"], result: "i32" } as const,
      () => {
        if (performance.now() < this.#deadline) return 0;
        this.#overran = true;
        return 1;
      },
    );
    this.#statements = new Statements(lib, db);
    this.#trace = traceOpen("sqlite", label);
    this.#onLoop();
  }

  /**
   * Opens `path` (read-only for a reader): foreign keys on, double-quoted
   * string literals refused, WAL mode for a writable file.
   */
  static async open(
    lib: SqliteSymbols,
    path: string,
    opts: { readOnly: boolean; busyTimeout: number; budget: number; label: string },
  ): Promise<FfiConn> {
    const file = path !== ":memory:" && path !== "";
    if (file) checkFileAccess(path, opts.readOnly);
    const out = new BigUint64Array(1);
    const flags = (opts.readOnly ? OPEN_READONLY : OPEN_READWRITE | OPEN_CREATE) | OPEN_FULLMUTEX;
    const rc = lib.sqlite3_open_v2(
      new TextEncoder().encode(path + "\0"),
      new Uint8Array(out.buffer),
      flags,
      null,
    );
    const db = Deno.UnsafePointer.create(out[0]);
    if (rc !== SQLITE_OK || db === null) {
      const err = sqliteError(lib, db, rc);
      if (db !== null) lib.sqlite3_close_v2(db);
      throw err;
    }
    lib.sqlite3_extended_result_codes(db, 1);
    // ATTACH (and VACUUM INTO) reach files by name from SQL: as in Deno's
    // node:sqlite, only a process with every permission may use them.
    if (!allPermissions()) {
      lib.sqlite3_limit(db, LIMIT_ATTACHED, 0);
      if (DB_CONFIG_CALLABLE) lib.sqlite3_db_config(db, DBCONFIG_ENABLE_ATTACH_WRITE, 0, null);
    }
    if (DB_CONFIG_CALLABLE) {
      lib.sqlite3_db_config(db, DBCONFIG_DQS_DML, 0, null);
      lib.sqlite3_db_config(db, DBCONFIG_DQS_DDL, 0, null);
    }
    const conn = new FfiConn(lib, db, opts.busyTimeout, opts.budget, opts.label);
    try {
      await conn.statement("exec", "PRAGMA foreign_keys = ON", []);
      if (file && !opts.readOnly) {
        await conn.statement("exec", "PRAGMA journal_mode = WAL", []);
      }
    } catch (err) {
      await conn.close();
      throw err;
    }
    return conn;
  }

  /** True once the connection was closed. */
  get dead(): boolean {
    return this.#dead !== undefined;
  }

  /** Runs one statement; resolves with its rows, first row or {@linkcode ExecResult}. */
  statement(kind: Kind, sql: string, params: unknown[]): Promise<unknown> {
    if (this.#dead) return Promise.reject(this.#dead);
    if (this.#active !== undefined) {
      const queued = newJob(kind, sql, params);
      this.#queue.push(queued);
      return queued.promise;
    }
    let value: unknown;
    try {
      value = this.#inline(kind, sql, params);
    } catch (err) {
      return Promise.reject(err);
    }
    if (value !== OFF_LOOP && !(value instanceof InlineRun)) return Promise.resolve(value);
    const job = newJob(kind, sql, params);
    this.#drain(job, value);
    return job.promise;
  }

  /**
   * Stops `running` if it is the statement running off the loop; drops it
   * if it is still queued. Either way it rejects.
   */
  interrupt(running: Promise<unknown>): void {
    const active = this.#active;
    if (active?.promise === running) {
      if (active.run) active.givenUp = true;
      else this.#lib.sqlite3_interrupt(this.#db);
      return;
    }
    const at = this.#queue.findIndex((job) => job.promise === running);
    if (at >= 0) this.#queue.splice(at, 1)[0].reject(new Error("sqlite: statement given up"));
  }

  /** Stops what runs, waits for it, and closes the connection. */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      this.#dead ??= new Error("sqlite: connection closed");
      for (const job of this.#queue.splice(0)) job.reject(this.#dead);
      const active = this.#active;
      if (active) {
        this.#lib.sqlite3_interrupt(this.#db);
        await active.promise.catch(() => {});
      }
      this.#statements.finalizeAll();
      this.#lib.sqlite3_progress_handler(this.#db, 0, null, null);
      this.#lib.sqlite3_close_v2(this.#db);
      this.#progress.close();
      traceClose("sqlite", this.#trace);
    })();
  }

  /**
   * Runs `first` from where its inline attempt left it (`started`: paused,
   * or off the loop), then every queued job, each off the loop when it has
   * to be.
   */
  async #drain(first: Job, started: InlineRun | typeof OFF_LOOP): Promise<void> {
    let job: Job | undefined = first;
    let value: unknown = started;
    while (job) {
      this.#active = job;
      try {
        if (this.#dead) throw this.#dead;
        value ??= this.#inline(job.kind, job.sql, job.params);
        while (value instanceof InlineRun) {
          job.run = value;
          await this.#yield(value);
          if (this.#dead || job.givenUp) {
            this.#endRun(value.p);
            throw this.#dead ?? new Error("sqlite: statement given up");
          }
          value = this.#steps(value);
        }
        job.run = undefined;
        if (value === OFF_LOOP) value = await this.#offLoop(job.kind, job.sql, job.params);
        job.resolve(value);
      } catch (err) {
        job.reject(err);
      }
      this.#active = undefined;
      value = undefined;
      job = this.#queue.shift();
    }
  }

  /**
   * Starts a statement on this thread: its result, an {@linkcode InlineRun}
   * paused between rows, or `OFF_LOOP` when it has to run on a runtime thread.
   */
  #inline(kind: Kind, sql: string, params: unknown[]): unknown {
    const p = this.#statements.prepare(sql);
    if (p === undefined) return empty(kind);
    if (p === OFF_LOOP || !p.inline || p.rest !== undefined) return OFF_LOOP;
    if (p.offLoopRuns > 0) {
      p.offLoopRuns--;
      return OFF_LOOP;
    }
    try {
      this.#scratch = bindParams(this.#lib, this.#db, p.handle, params, this.#scratch);
    } catch (err) {
      this.#endRun(p);
      throw err;
    }
    return this.#steps(new InlineRun(p, kind));
  }

  /**
   * Steps `run` for at most the budget: its result; `run` again, paused
   * between two rows, when the budget ran out; `OFF_LOOP` (the statement
   * reset) when one step overran it.
   */
  #steps(run: InlineRun): unknown {
    const lib = this.#lib, budget = this.#budget;
    const { p, kind, rows } = run;
    const stmt = p.handle;
    const sliceEnd = performance.now() + budget;
    let done = true;
    try {
      for (;;) {
        const now = performance.now();
        if (now > sliceEnd) {
          done = false;
          return run;
        }
        this.#deadline = now + budget;
        this.#overran = false;
        const rc = lib.sqlite3_step(stmt);
        if (rc === SQLITE_ROW) {
          if (kind === "exec") continue;
          rows.push(readRow(lib, stmt, p.columns));
          if (kind === "one") return rows[0];
          continue;
        }
        if (rc === SQLITE_DONE) return kind === "exec" ? empty(kind) : kind === "one" ? null : rows;
        if (rc === SQLITE_INTERRUPT && this.#overran) {
          p.offLoopRuns = OFF_LOOP_RUNS;
          return OFF_LOOP;
        }
        throw sqliteError(lib, this.#db, rc);
      }
    } finally {
      if (done) this.#endRun(p);
    }
  }

  /**
   * Lets the event loop turn between two slices of an inline read. A call
   * on a runtime thread returns within microseconds, but the runtime may
   * then resume the read without polling timers and I/O (measured: no
   * timer turn in 50 ms of slices); every few slices a timer guarantees it.
   */
  #yield(run: InlineRun): Promise<unknown> {
    if (++run.slices % TIMER_EVERY !== 0) return this.#lib.yield_to_loop();
    return new Promise((resolve) => setTimeout(resolve, 0));
  }

  #endRun(p: Prepared): void {
    this.#lib.sqlite3_reset(p.handle);
    this.#lib.sqlite3_clear_bindings(p.handle);
  }

  /**
   * Runs a statement on a runtime thread, a step at a time. SQL holding
   * several statements runs them all, in order, as an `exec` without
   * parameters (their changes added up, the last inserted rowid kept);
   * anything else is refused.
   */
  async #offLoop(kind: Kind, sql: string, params: unknown[]): Promise<unknown> {
    let result = await this.#offLoopOne(kind, sql, params);
    const cached = this.#statements;
    for (let p = cached.get(sql); p?.rest !== undefined; p = cached.get(p.rest)) {
      const next = await this.#offLoopOne(kind, p.rest, params) as ExecResult;
      const sum = result as ExecResult;
      result = {
        affectedRows: sum.affectedRows + next.affectedRows,
        lastInsertId: next.lastInsertId ?? sum.lastInsertId,
      };
    }
    return result;
  }

  async #offLoopOne(kind: Kind, sql: string, params: unknown[]): Promise<unknown> {
    const lib = this.#lib, db = this.#db;
    this.#offLoopStart();
    let p: Prepared | undefined;
    try {
      p = await this.#statements.prepareOffLoop(sql);
      if (p === undefined) return empty(kind);
      if (p.rest !== undefined && (kind !== "exec" || params.length > 0)) {
        p = undefined;
        throw severalStatements(sql);
      }
      const stmt = p.handle;
      this.#scratch = bindParams(lib, db, stmt, params, this.#scratch);
      const before = lib.sqlite3_total_changes64(db);
      const rows: Row[] = [];
      let rc: number;
      while ((rc = await lib.step_off_loop(stmt)) === SQLITE_ROW) {
        if (kind === "exec") continue;
        rows.push(readRow(lib, stmt, p.columns));
        if (kind === "one") return rows[0];
      }
      if (rc !== SQLITE_DONE) throw sqliteError(lib, db, rc);
      if (kind === "all") return rows;
      if (kind === "one") return null;
      return this.#execResult(sql, before);
    } finally {
      if (p) this.#endRun(p);
      this.#onLoop();
    }
  }

  #execResult(sql: string, before: number | bigint): ExecResult {
    const lib = this.#lib, db = this.#db;
    if (lib.sqlite3_total_changes64(db) === before) return { affectedRows: 0, lastInsertId: null };
    const affectedRows = Number(lib.sqlite3_changes64(db));
    const rowid = affectedRows > 0 && inserts(sql) ? lib.sqlite3_last_insert_rowid(db) : null;
    return {
      affectedRows,
      lastInsertId: typeof rowid === "bigint" && rowid <= Number.MAX_SAFE_INTEGER &&
          rowid >= Number.MIN_SAFE_INTEGER
        ? Number(rowid)
        : rowid,
    };
  }

  /** The connection as inline statements need it: no lock waits, the budget watched. */
  #onLoop(): void {
    this.#lib.sqlite3_busy_timeout(this.#db, 0);
    this.#lib.sqlite3_progress_handler(this.#db, PROGRESS_STEPS, this.#progress.pointer, null);
  }

  /** The connection as statements on a runtime thread need it: lock waits, no JavaScript callback. */
  #offLoopStart(): void {
    this.#lib.sqlite3_progress_handler(this.#db, 0, null, null);
    this.#lib.sqlite3_busy_timeout(this.#db, this.#busyTimeout);
  }
}

/**
 * Throws `NotCapable` unless Deno grants read access to `path` (and write
 * access, for a connection that may write), asking where Deno would ask:
 * the library opens files by itself, past Deno's own checks.
 */
function checkFileAccess(path: string, readOnly: boolean): void {
  for (const name of readOnly ? ["read"] as const : ["read", "write"] as const) {
    const descriptor = { name, path };
    let state = Deno.permissions.querySync(descriptor).state;
    if (state === "prompt") state = Deno.permissions.requestSync(descriptor).state;
    if (state !== "granted") {
      throw new Deno.errors.NotCapable(
        `Requires ${name} access to "${path}", run again with the --allow-${name} flag`,
      );
    }
  }
}

const PERMISSIONS = ["read", "write", "net", "env", "sys", "run", "ffi"] as const;

/** True when every permission is granted without a list (as `-A` does). */
function allPermissions(): boolean {
  return PERMISSIONS.every((name) => Deno.permissions.querySync({ name }).state === "granted");
}

function empty(kind: Kind): unknown {
  return kind === "all" ? [] : kind === "one" ? null : { affectedRows: 0, lastInsertId: null };
}

function newJob(kind: Kind, sql: string, params: unknown[]): Job {
  let resolve!: (value: unknown) => void, reject!: (err: unknown) => void;
  const promise = new Promise<unknown>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A job dropped from the queue rejects whether or not anyone still waits.
  promise.catch(() => {});
  return { kind, sql, params, run: undefined, givenUp: false, promise, resolve, reject };
}

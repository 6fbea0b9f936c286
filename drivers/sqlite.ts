/**
 * SQLite for lunet, on the built-in `node:sqlite`, off the event loop:
 * every connection lives in its own worker thread, so a slow query never
 * stalls other tasks. File databases use WAL mode; writes and transactions
 * are serialized on one writer connection while plain `SELECT`s run in
 * parallel on reader connections. Reader workers start on demand (the
 * first read, and another while all open ones are busy) and stop after
 * {@linkcode SqliteConfig.idleTimeout} without work; the writer's worker
 * lives as long as the database is open. Each worker is a V8 isolate
 * (11–17 MiB resident, measured, of which a stopped one gives back only a
 * part), so a small database does best with `readers: 0`: one worker
 * serves everything, reads pipelined with writes. Importing this module
 * loads no npm package.
 *
 * The main thread and each worker exchange statements and rows through a
 * shared buffer and signal with `Atomics` (the worker rings a one-number
 * message only when the main thread stopped waiting for it), which costs
 * far less than a `postMessage` round trip; statements that queue up on
 * one worker travel together in one round trip.
 *
 * Cancellation and timeouts wake the caller at once, but a statement
 * already running in its worker cannot be stopped: it runs to completion
 * (a transaction it belongs to is then rolled back) before the connection
 * serves anyone else.
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
import type { WaitOptions } from "../src/_wait.ts";
import { traceClose, traceOpen } from "../src/trace.ts";
import { PooledDb } from "./_pooled_db.ts";
import type { Connector, Db, Kind, Row } from "./_types.ts";
import {
  COUNT,
  Decoder,
  Encoder,
  HEADER,
  newSharedBuffer,
  OP_ALL,
  OP_CLOSE,
  OP_EXEC,
  OP_ONE,
  OP_OPEN,
  PARKED,
  R_ERROR,
  R_EXEC,
  R_ROWS,
  REQ,
  RES,
  STOP,
} from "./_sqlite_codec.ts";

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
}

// Spin this long for a reply before parking: fast statements answer within
// it. After SPIN_MISSES replies in a row that missed the window (a slow
// statement, or a starved CPU), skip spinning for SPIN_PAUSE round trips.
const SPIN_MS = 0.02;
const SPIN_MISSES = 4;
const SPIN_PAUSE = 64;

// Most requests sent to a worker in one batch.
const MAX_BATCH = 64;

interface Job {
  write(enc: Encoder): void;
  read(dec: Decoder): unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

const OPS: Record<Kind, number> = { all: OP_ALL, one: OP_ONE, exec: OP_EXEC };

/** One statement queued on a worker: its request, and how to read its response. */
class StatementJob implements Job {
  readonly kind: Kind;
  readonly sql: string;
  readonly params: unknown[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;

  constructor(
    kind: Kind,
    sql: string,
    params: unknown[],
    resolve: (value: unknown) => void,
    reject: (err: unknown) => void,
  ) {
    this.kind = kind;
    this.sql = sql;
    this.params = params;
    this.resolve = resolve;
    this.reject = reject;
  }

  write(enc: Encoder): void {
    const params = this.params;
    enc.u8(OPS[this.kind]);
    enc.str(this.sql);
    enc.u32(params.length);
    for (let i = 0; i < params.length; i++) enc.value(params[i]);
  }

  read(dec: Decoder): unknown {
    return readResponse(dec, this.kind);
  }
}

/**
 * One worker thread holding one `node:sqlite` connection. Requests run in
 * call order; those that queue up while a batch is in flight go together
 * in the next one, so concurrent callers share a round trip.
 */
class WorkerConn {
  #worker: Worker;
  #header: Int32Array;
  #enc: Encoder;
  #dec: Decoder;
  #seq = 0;
  #misses = 0;
  #pause = 0;
  #queue: Job[] = [];
  #pumping = false;
  #ring: (() => void) | undefined;
  #dead: Error | undefined;
  #trace: number;
  #closing: Promise<void> | undefined;

  constructor(label: string) {
    const sab = newSharedBuffer();
    this.#header = new Int32Array(sab, 0, HEADER / 4);
    this.#enc = new Encoder(sab);
    this.#dec = new Decoder(sab);
    this.#worker = new Worker(new URL("./_sqlite_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.#trace = traceOpen("worker", label);
    this.#worker.onmessage = () => this.#ring?.();
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#die(new DbError(`${label}: worker failed: ${event.message}`));
    };
    this.#worker.postMessage(sab);
  }

  /** True once the worker has failed or was closed. */
  get dead(): boolean {
    return this.#dead !== undefined;
  }

  /** Queues one request; resolves with what `read` decodes from its response. */
  request<T>(write: (enc: Encoder) => void, read: (dec: Decoder) => T): Promise<T> {
    if (this.#dead) return Promise.reject(this.#dead);
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ write, read, resolve: resolve as (v: unknown) => void, reject });
      if (!this.#pumping) this.#pump();
    });
  }

  /** Queues one statement; resolves with its rows, row or {@linkcode ExecResult}. */
  statement(kind: Kind, sql: string, params: unknown[]): Promise<unknown> {
    if (this.#dead) return Promise.reject(this.#dead);
    return new Promise((resolve, reject) => {
      this.#queue.push(new StatementJob(kind, sql, params, resolve, reject));
      if (!this.#pumping) this.#pump();
    });
  }

  /** Closes the connection and terminates the worker. */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      if (!this.#dead) {
        await this.request((enc) => enc.u8(OP_CLOSE), () => {}).catch(() => {});
      }
      this.#die(new DbError("sqlite: connection closed"));
      Atomics.store(this.#header, STOP, 1);
      Atomics.add(this.#header, REQ, 1);
      Atomics.notify(this.#header, REQ);
      this.#worker.terminate();
      traceClose("worker", this.#trace);
    })();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    const enc = this.#enc, dec = this.#dec, header = this.#header;
    try {
      while (this.#queue.length && !this.#dead) {
        const batch: Job[] = [];
        enc.reset();
        for (const job of this.#queue.splice(0, MAX_BATCH)) {
          const mark = enc.length;
          try {
            job.write(enc);
            batch.push(job);
          } catch (err) {
            enc.truncate(mark);
            job.reject(err);
          }
        }
        if (!batch.length) continue;
        Atomics.store(header, COUNT, batch.length);
        const seq = ++this.#seq;
        Atomics.store(header, REQ, seq);
        Atomics.notify(header, REQ);
        this.#spin(seq);
        if (Atomics.load(header, RES) !== seq) {
          // Park until the worker rings; a ring for an earlier batch only re-checks.
          Atomics.store(header, PARKED, 1);
          while (Atomics.load(header, RES) !== seq && !this.#dead) {
            await new Promise<void>((resolve) => this.#ring = resolve);
          }
          this.#ring = undefined;
          Atomics.store(header, PARKED, 0);
        }
        if (Atomics.load(header, RES) !== seq) {
          for (const job of batch) job.reject(this.#dead);
          break;
        }
        dec.reset();
        for (const job of batch) {
          try {
            job.resolve(job.read(dec));
          } catch (err) {
            job.reject(err);
          }
        }
      }
    } finally {
      this.#pumping = false;
    }
    if (this.#dead) { for (const job of this.#queue.splice(0)) job.reject(this.#dead); }
  }

  #spin(seq: number): void {
    if (this.#pause > 0) {
      this.#pause--;
      return;
    }
    const header = this.#header;
    const until = performance.now() + SPIN_MS;
    while (Atomics.load(header, RES) !== seq && performance.now() < until) { /* spin */ }
    if (Atomics.load(header, RES) === seq) this.#misses = 0;
    else if (++this.#misses >= SPIN_MISSES) {
      this.#misses = 0;
      this.#pause = SPIN_PAUSE;
    }
  }

  #die(err: Error): void {
    this.#dead ??= err;
    this.#ring?.();
  }
}

function readResponse(dec: Decoder, kind: Kind): unknown {
  const tag = dec.u8();
  if (tag === R_ERROR) {
    const message = dec.str();
    const code = dec.str() || undefined;
    const errno = dec.value();
    throw Object.assign(new Error(message), { code: errno ?? code });
  }
  if (tag === R_EXEC) {
    const affectedRows = Number(dec.value());
    return { affectedRows, lastInsertId: dec.value() };
  }
  if (tag !== R_ROWS) return undefined;
  const width = dec.u32();
  const columns: string[] = new Array(width);
  for (let i = 0; i < width; i++) columns[i] = dec.str();
  const count = dec.u32();
  if (kind === "one") {
    // The worker sends at most one row for OP_ONE; any more are read past.
    let first: Row | null = null;
    for (let r = 0; r < count; r++) {
      const row = readRow(dec, columns);
      if (r === 0) first = row;
    }
    return first;
  }
  const rows: Row[] = new Array(count);
  for (let r = 0; r < count; r++) rows[r] = readRow(dec, columns);
  return rows;
}

function readRow(dec: Decoder, columns: string[]): Row {
  const row: Row = {};
  for (let i = 0; i < columns.length; i++) row[columns[i]] = dec.value();
  return row;
}

function connector(path: string, busyTimeout: number): Connector<WorkerConn> {
  const label = `sqlite ${path}`;
  return {
    dialect: "sqlite",
    label,
    // Statements queued on one worker travel together in one round trip.
    pipeline: MAX_BATCH,
    async connect(readOnly) {
      const conn = new WorkerConn(label);
      try {
        await conn.request((enc) => {
          enc.u8(OP_OPEN);
          enc.str(path);
          enc.u8(readOnly ? 1 : 0);
          enc.u32(busyTimeout);
        }, (dec) => readResponse(dec, "exec"));
      } catch (err) {
        await conn.close();
        throw err;
      }
      return conn;
    },
    run: (conn, kind, sql, params) => conn.statement(kind, sql, params),
    // A statement in a worker cannot be stopped from outside; it runs to
    // completion while its caller has already moved on.
    interrupt: () => Promise.resolve(),
    isBroken: (conn) => conn.dead,
    disconnect: (conn) => conn.close(),
    begin: (mode) => `BEGIN ${(mode ?? "deferred").toUpperCase()}`,
  };
}

/**
 * Opens a SQLite database (`":memory:"` for a private in-memory one) and
 * starts its worker threads. Close it with {@linkcode Db.close}, which
 * terminates them.
 *
 * Values: integers are numbers, or bigints beyond 2^53; REAL is a number;
 * TEXT a string; BLOB a `Uint8Array`; NULL is `null`. Booleans bind as 1
 * and 0, `Date`s as ISO 8601 text (an invalid `Date` is refused), integral
 * numbers as INTEGER. Strings bind as UTF-8, a lone surrogate as U+FFFD.
 * Text holding NUL characters reads back whole from `SELECT` / `VALUES` /
 * `WITH` statements of up to 52 columns (`node:sqlite` itself cuts TEXT at
 * its first NUL, so such statements run wrapped to fetch it as bytes);
 * other statements (`RETURNING`, `PRAGMA`) return it cut at the NUL.
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
  const cfg = typeof config === "string" ? { path: config } : config;
  const memory = cfg.path === ":memory:" || cfg.path === "";
  const readers = memory ? 0 : cfg.readers ?? 2;
  const db = new PooledDb("sqlite", connector(cfg.path, cfg.busyTimeout ?? 5000), {
    max: 1,
    readers,
    readerIdleTimeout: cfg.idleTimeout ?? 30_000,
  });
  return db.start(opts);
}

/**
 * One SQLite connection of the worker engine: a worker thread holding a
 * `node:sqlite` connection, fed through a shared buffer (see
 * `_sqlite_codec.ts`).
 *
 * @module
 */
import { permissionRefusal } from "../src/_errno.ts";
import { DbError } from "../src/errors.ts";
import { traceClose, traceOpen } from "../src/trace.ts";
import type { Kind, Row } from "./_types.ts";
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

// Spin this long for a reply before parking: fast statements answer within
// it. After SPIN_MISSES replies in a row that missed the window (a slow
// statement, or a starved CPU), skip spinning for SPIN_PAUSE round trips.
const SPIN_MS = 0.02;
const SPIN_MISSES = 4;
const SPIN_PAUSE = 64;

/** Most requests sent to a worker in one batch. */
export const MAX_BATCH = 64;

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
export class WorkerConn {
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

  private constructor(label: string) {
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
      const what = `${label}: worker failed`;
      this.#die(permissionRefusal(event.message, what) ?? new DbError(`${what}: ${event.message}`));
    };
    this.#worker.postMessage(sab);
  }

  /** Starts a worker and opens `path` in it (read-only for a reader). */
  static async open(
    path: string,
    opts: { readOnly: boolean; busyTimeout: number; label: string },
  ): Promise<WorkerConn> {
    const conn = new WorkerConn(opts.label);
    try {
      await conn.request((enc) => {
        enc.u8(OP_OPEN);
        enc.str(path);
        enc.u8(opts.readOnly ? 1 : 0);
        enc.u32(opts.busyTimeout);
      }, (dec) => readResponse(dec, "exec"));
    } catch (err) {
      await conn.close();
      throw err;
    }
    return conn;
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

  /**
   * Does nothing: a statement in a worker cannot be stopped from outside;
   * it runs to completion while its caller has already moved on.
   */
  interrupt(_running: Promise<unknown>): void {}

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

/**
 * SQLite for lunet, on the built-in `node:sqlite`, off the event loop:
 * every connection lives in its own worker thread, so a slow query never
 * stalls other tasks. File databases use WAL mode; writes and transactions
 * are serialized on one writer connection while plain `SELECT`s run in
 * parallel on reader connections. Importing this module loads no npm
 * package.
 *
 * The main thread and each worker exchange statements and rows through a
 * shared buffer and wake each other with `Atomics`, which costs far less
 * than a `postMessage` round trip.
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
import type { WaitOptions } from "../src/task.ts";
import { traceClose, traceOpen } from "../src/trace.ts";
import { type Connector, type Db, type Kind, PooledDb, type Row } from "./common.ts";
import {
  Decoder,
  Encoder,
  HEADER,
  newSharedBuffer,
  OP_ALL,
  OP_CLOSE,
  OP_EXEC,
  OP_ONE,
  OP_OPEN,
  R_ERROR,
  R_EXEC,
  R_ROWS,
  REQ,
  RES,
  STOP,
} from "./sqlite_codec.ts";

export type {
  Db,
  ExecResult,
  Queryable,
  Row,
  Sql,
  Statement,
  TransactionOptions,
} from "./common.ts";

/**
 * Settings of {@linkcode open}.
 *
 * @example
 * ```ts
 * import type { SqliteConfig } from "@lunet/lunet/sqlite";
 * const cfg: SqliteConfig = { path: "app.db", readers: 2, busyTimeout: 5000 };
 * ```
 */
export interface SqliteConfig {
  /** Database file, or `":memory:"` for a private in-memory database. */
  path: string;
  /**
   * Reader connections (worker threads) for `SELECT`s on a file database.
   * Default 2; an in-memory database always has none (one connection
   * serves everything).
   */
  readers?: number;
  /** Milliseconds to wait for a lock held by another process. Default 5000. */
  busyTimeout?: number;
}

// Spin this long for a reply before parking: fast statements answer within it.
const SPIN_MS = 0.1;

/** One worker thread holding one `node:sqlite` connection. */
class WorkerConn {
  #worker: Worker;
  #header: Int32Array;
  #enc: Encoder;
  #dec: Decoder;
  #seq = 0;
  #busy = false;
  #queue: Array<() => void> = [];
  #dead: Error | undefined;
  #trace: number;
  #closing: Promise<void> | undefined;

  constructor(label: string) {
    const sab = newSharedBuffer();
    this.#header = new Int32Array(sab, 0, HEADER / 4);
    this.#enc = new Encoder(sab);
    this.#dec = new Decoder(sab);
    this.#worker = new Worker(new URL("./sqlite_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.#trace = traceOpen("worker", label);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#die(new DbError(`${label}: worker failed: ${event.message}`));
    };
    this.#worker.postMessage(sab);
  }

  /** True once the worker has failed. */
  get dead(): boolean {
    return this.#dead !== undefined;
  }

  /** Sends one request and decodes its response; requests run one at a time, in call order. */
  async request<T>(write: (enc: Encoder) => void, read: (dec: Decoder) => T): Promise<T> {
    if (this.#busy) await new Promise<void>((resolve) => this.#queue.push(resolve));
    this.#busy = true;
    try {
      if (this.#dead) throw this.#dead;
      this.#enc.reset();
      write(this.#enc);
      const header = this.#header;
      const seq = ++this.#seq;
      Atomics.store(header, REQ, seq);
      Atomics.notify(header, REQ);
      const until = performance.now() + SPIN_MS;
      while (Atomics.load(header, RES) !== seq && performance.now() < until) { /* spin */ }
      while (Atomics.load(header, RES) !== seq) {
        if (this.#dead) throw this.#dead;
        const wait = Atomics.waitAsync(header, RES, seq - 1);
        if (wait.async) await wait.value;
      }
      this.#dec.reset();
      return read(this.#dec);
    } finally {
      const next = this.#queue.shift();
      if (next) next();
      else this.#busy = false;
    }
  }

  /** Closes the connection and terminates the worker. */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      if (!this.#dead) {
        await this.request((enc) => enc.u8(OP_CLOSE), () => {}).catch(() => {});
      }
      Atomics.store(this.#header, STOP, 1);
      Atomics.add(this.#header, REQ, 1);
      Atomics.notify(this.#header, REQ);
      this.#worker.terminate();
      this.#die(new DbError("sqlite: connection closed"));
      traceClose("worker", this.#trace);
    })();
  }

  #die(err: Error): void {
    this.#dead ??= err;
    Atomics.notify(this.#header, RES);
  }
}

const OPS: Record<Kind, number> = { all: OP_ALL, one: OP_ONE, exec: OP_EXEC };

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
  const rows: Row[] = new Array(count);
  for (let r = 0; r < count; r++) {
    const row: Row = {};
    for (let i = 0; i < width; i++) row[columns[i]] = dec.value();
    rows[r] = row;
  }
  return kind === "one" ? rows[0] ?? null : rows;
}

function connector(path: string, busyTimeout: number): Connector<WorkerConn> {
  const label = `sqlite ${path}`;
  return {
    dialect: "sqlite",
    label,
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
    run(conn, kind, sql, params) {
      return conn.request((enc) => {
        enc.u8(OPS[kind]);
        enc.str(sql);
        enc.u32(params.length);
        for (const p of params) enc.value(p);
      }, (dec) => readResponse(dec, kind));
    },
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
 * and 0, `Date`s as ISO 8601 text, integral numbers as INTEGER.
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
  });
  return db.start(opts);
}

/**
 * The SQLite worker thread: owns one `node:sqlite` connection and serves
 * batches of requests from the main thread through a shared buffer (see
 * `_sqlite_codec.ts`). Between batches it polls for at most 50 µs, then
 * sleeps in `Atomics.wait` (a worker that spins without bound was measured
 * to starve the main thread on a busy machine).
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  COUNT,
  Decoder,
  Encoder,
  HEADER,
  OP_ALL,
  OP_CLOSE,
  OP_EXEC,
  OP_ONE,
  OP_OPEN,
  PARKED,
  R_ERROR,
  R_EXEC,
  R_OK,
  R_ROWS,
  REQ,
  RES,
  STOP,
} from "./_sqlite_codec.ts";
import { fromFirstStatement, inserts, moreStatements, severalStatements } from "./_sqlite_sql.ts";

const CACHE_SIZE = 128;

interface Prepared {
  stmt: StatementSync;
  columns: string[];
  /** The SQL after this statement when it holds more statements. */
  rest: string | undefined;
  /**
   * True when `stmt` is the statement wrapped by {@linkcode exactText}:
   * each row ends with a mask of the columns that hold text with NUL,
   * given as BLOBs.
   */
  masked: boolean;
}

const READ = /^\s*(?:select|values|with)\b/i;
const WRITE = /\b(?:insert|update|delete|replace)\b/i;
// Columns a mask covers (integers stay exact up to 2^53).
const MASK_BITS = 52;

/**
 * `node:sqlite` cuts TEXT at its first NUL when it reads it. For a read
 * statement, this is the statement wrapped so that a text value holding a
 * NUL comes back as a BLOB of its UTF-8 bytes, flagged in a mask column
 * (0 on rows without such text); undefined when it cannot be wrapped.
 */
function exactText(sql: string, width: number): string | undefined {
  if (width === 0 || width > MASK_BITS || !READ.test(sql) || WRITE.test(sql)) return undefined;
  const cols = Array.from({ length: width }, (_, i) => `c${i}`);
  const nul = (c: string) => `(typeof(${c}) = 'text' AND instr(${c}, char(0)) > 0)`;
  const values = cols.map((c) => `CASE WHEN ${nul(c)} THEN CAST(${c} AS BLOB) ELSE ${c} END`);
  // A REAL, so reading it allocates no BigInt.
  const mask = cols.map((c, i) => `(${nul(c)} * ${2 ** i}.0)`).join(" + ");
  const body = sql.replace(/[\s;]+$/, "");
  return `WITH lunet_rows(${cols.join(", ")}) AS (\n${body}\n) SELECT ${
    values.join(", ")
  }, ${mask} FROM lunet_rows`;
}

/** One decoded request (the shared buffer is reused for the replies). */
interface Request {
  op: number;
  /** SQL text, or the path for OP_OPEN. */
  text: string;
  params: unknown[];
  readOnly: boolean;
  busyTimeout: number;
}

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
scope.onmessage = (event: MessageEvent<SharedArrayBuffer>) => {
  scope.onmessage = null;
  new Server(event.data).serve();
};

// After a batch the worker polls for the next request this long (ms)
// before it sleeps in Atomics.wait: a caller issuing statements one after
// another is then served without a futex wake-up, which costs tens of
// microseconds. Bounded, so an idle or busy machine loses at most this
// much CPU per batch.
const WAIT_SPIN_MS = 0.05;

class Server {
  #header: Int32Array;
  #dec: Decoder;
  #enc: Encoder;
  #cache = new Map<string, Prepared>();
  #db: DatabaseSync | undefined;
  #changes: StatementSync | undefined;

  constructor(sab: SharedArrayBuffer) {
    this.#header = new Int32Array(sab, 0, HEADER / 4);
    this.#dec = new Decoder(sab);
    this.#enc = new Encoder(sab);
  }

  serve(): void {
    const header = this.#header;
    let seq = 0;
    for (;;) {
      // Atomics.wait may return without a new request (an interrupt of the
      // thread): only a changed sequence number means there is one.
      const until = performance.now() + WAIT_SPIN_MS;
      while (Atomics.load(header, REQ) === seq && performance.now() < until) { /* spin */ }
      while (Atomics.load(header, REQ) === seq) Atomics.wait(header, REQ, seq);
      if (Atomics.load(header, STOP)) return;
      seq = Atomics.load(header, REQ);
      const requests = this.#decode(Atomics.load(header, COUNT));
      this.#enc.reset();
      for (const r of requests) this.#handle(r);
      Atomics.store(header, RES, seq);
      if (Atomics.load(header, PARKED)) scope.postMessage(seq);
    }
  }

  #decode(count: number): Request[] {
    const dec = this.#dec;
    dec.reset();
    const out: Request[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const op = dec.u8();
      const r: Request = { op, text: "", params: [], readOnly: false, busyTimeout: 0 };
      if (op === OP_OPEN) {
        r.text = dec.str();
        r.readOnly = dec.u8() === 1;
        r.busyTimeout = dec.u32();
      } else if (op !== OP_CLOSE) {
        r.text = dec.str();
        const n = dec.u32();
        r.params = new Array(n);
        for (let k = 0; k < n; k++) r.params[k] = dec.value(true);
      }
      out[i] = r;
    }
    return out;
  }

  #handle(r: Request): void {
    const enc = this.#enc;
    const start = enc.length;
    try {
      switch (r.op) {
        case OP_OPEN:
          this.#db = open(r.text, r.readOnly, r.busyTimeout);
          enc.u8(R_OK);
          return;
        case OP_CLOSE:
          this.#cache.clear();
          this.#changes = undefined;
          this.#db?.close();
          this.#db = undefined;
          enc.u8(R_OK);
          return;
        case OP_EXEC:
        case OP_ALL:
        case OP_ONE:
          return this.#run(r);
      }
      throw new Error(`sqlite worker: unknown request ${r.op}`);
    } catch (err) {
      const e = err as { message?: string; code?: string; errcode?: number };
      enc.truncate(start);
      enc.u8(R_ERROR);
      enc.str(String(e?.message ?? err));
      enc.str(String(e?.code ?? ""));
      enc.value(e?.errcode ?? null);
    }
  }

  /** Rows changed on this connection so far (so a statement that changed none reports 0). */
  #totalChanges(): unknown {
    this.#changes ??= this.#db!.prepare("SELECT total_changes() AS n");
    return (this.#changes.get() as { n: unknown }).n;
  }

  /** The cached statement for `sql`, or undefined when it holds none. */
  #prepare(sql: string): Prepared | undefined {
    let p = this.#cache.get(sql);
    if (p) return p;
    const db = this.#db;
    if (!db) throw new Error("sqlite worker: database not open");
    const text = fromFirstStatement(sql);
    // node:sqlite cannot describe a statement compiled from no SQL at all.
    if (text === "") return undefined;
    let stmt = db.prepare(text);
    const tail = text.slice(stmt.sourceSQL.length);
    const rest = moreStatements(tail);
    const columns = stmt.columns().map((c) => c.name);
    const wrapped = rest === undefined ? exactText(text, columns.length) : undefined;
    let masked = false;
    if (wrapped) {
      try {
        stmt = db.prepare(wrapped);
        masked = true;
      } catch {
        // Not wrappable (e.g. a trailing second statement): read it as it is.
      }
    }
    stmt.setReadBigInts(true);
    // Rows as arrays: column names travel once per result, not once per row.
    (stmt as StatementSync & { setReturnArrays(on: boolean): void }).setReturnArrays(true);
    p = { stmt, columns, masked, rest };
    if (this.#cache.size >= CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(sql, p);
    return p;
  }

  #run(r: Request): void {
    const enc = this.#enc;
    const prepared = this.#prepare(r.text);
    if (prepared === undefined) {
      if (r.op === OP_EXEC) {
        enc.u8(R_EXEC);
        enc.value(0);
        enc.value(null);
      } else {
        enc.u8(R_ROWS);
        enc.u32(0);
        enc.u32(0);
      }
      return;
    }
    const { stmt, columns, masked, rest } = prepared;
    // deno-lint-ignore no-explicit-any
    const args = r.params as any[];
    if (rest !== undefined && (r.op !== OP_EXEC || args.length > 0)) {
      throw severalStatements(r.text);
    }
    if (r.op === OP_EXEC) {
      // Each statement of the text in turn: changes added up, the last inserted rowid kept.
      let changes = 0;
      let rowid: unknown = null;
      for (let sql: string | undefined = r.text; sql !== undefined;) {
        const p = this.#prepare(sql);
        if (p === undefined) break;
        const before = this.#totalChanges();
        const res = p.stmt.run(...args);
        if (this.#totalChanges() !== before) {
          changes += Number(res.changes);
          if (Number(res.changes) > 0 && inserts(sql)) rowid = res.lastInsertRowid;
        }
        sql = p.rest;
      }
      enc.u8(R_EXEC);
      enc.value(changes);
      enc.value(rowid);
      return;
    }
    let rows: unknown[][];
    if (r.op === OP_ONE) {
      const row = stmt.get(...args) as unknown as unknown[] | undefined;
      rows = row === undefined ? [] : [row];
    } else {
      rows = stmt.all(...args) as unknown as unknown[][];
    }
    enc.u8(R_ROWS);
    enc.u32(columns.length);
    for (const c of columns) enc.str(c);
    enc.u32(rows.length);
    const width = columns.length;
    for (const row of rows) {
      const mask = masked ? Number(row[width]) : 0;
      for (let i = 0; i < width; i++) {
        const v = row[i];
        if (mask && Math.floor(mask / 2 ** i) % 2) enc.text(v as Uint8Array);
        else enc.value(v);
      }
    }
  }
}

function open(path: string, readOnly: boolean, busyTimeout: number): DatabaseSync {
  const db = new DatabaseSync(path, { readOnly, timeout: busyTimeout });
  if (!readOnly && path !== ":memory:" && path !== "") db.exec("PRAGMA journal_mode = WAL");
  return db;
}

/**
 * The SQLite worker thread: owns one `node:sqlite` connection and serves
 * requests from the main thread through a shared buffer (see
 * `sqlite_codec.ts`). Between requests it spins briefly, then sleeps in
 * `Atomics.wait`, so back-to-back statements skip the thread wake-up.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  Decoder,
  Encoder,
  HEADER,
  OP_ALL,
  OP_CLOSE,
  OP_EXEC,
  OP_ONE,
  OP_OPEN,
  R_ERROR,
  R_EXEC,
  R_OK,
  R_ROWS,
  REQ,
  RES,
  STOP,
} from "./sqlite_codec.ts";

const SPIN_MS = 0.1;
const CACHE_SIZE = 128;
const INSERT = /^\s*(?:insert|replace)\b/i;

interface Prepared {
  stmt: StatementSync;
  columns: string[];
}

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
scope.onmessage = (event: MessageEvent<SharedArrayBuffer>) => {
  scope.onmessage = null;
  serve(event.data);
};

function serve(sab: SharedArrayBuffer): void {
  const header = new Int32Array(sab, 0, HEADER / 4);
  const dec = new Decoder(sab);
  const enc = new Encoder(sab);
  const cache = new Map<string, Prepared>();
  let db: DatabaseSync | undefined;
  let seq = 0;
  for (;;) {
    const until = performance.now() + SPIN_MS;
    while (Atomics.load(header, REQ) === seq && performance.now() < until) { /* spin */ }
    Atomics.wait(header, REQ, seq);
    if (Atomics.load(header, STOP)) return;
    seq = Atomics.load(header, REQ);
    dec.reset();
    const op = dec.u8();
    try {
      if (op === OP_OPEN) {
        db = open(dec.str(), dec.u8() === 1, dec.u32());
        enc.reset();
        enc.u8(R_OK);
      } else if (op === OP_CLOSE) {
        cache.clear();
        db?.close();
        db = undefined;
        enc.reset();
        enc.u8(R_OK);
      } else {
        run(db!, cache, op, dec, enc);
      }
    } catch (err) {
      const e = err as { message?: string; code?: string; errcode?: number };
      enc.reset();
      enc.u8(R_ERROR);
      enc.str(String(e?.message ?? err));
      enc.str(String(e?.code ?? ""));
      enc.value(e?.errcode ?? null);
    }
    Atomics.store(header, RES, seq);
    Atomics.notify(header, RES);
  }
}

function open(path: string, readOnly: boolean, busyTimeout: number): DatabaseSync {
  const db = new DatabaseSync(path, { readOnly, timeout: busyTimeout });
  if (!readOnly && path !== ":memory:" && path !== "") db.exec("PRAGMA journal_mode = WAL");
  return db;
}

function prepare(db: DatabaseSync, cache: Map<string, Prepared>, sql: string): Prepared {
  let p = cache.get(sql);
  if (p) return p;
  const stmt = db.prepare(sql);
  stmt.setReadBigInts(true);
  stmt.setReturnArrays(true);
  p = { stmt, columns: stmt.columns().map((c) => c.name) };
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(sql, p);
  return p;
}

function run(
  db: DatabaseSync,
  cache: Map<string, Prepared>,
  op: number,
  dec: Decoder,
  enc: Encoder,
): void {
  if (op !== OP_ALL && op !== OP_ONE && op !== OP_EXEC) {
    throw new Error(`sqlite worker: unknown request ${op}`);
  }
  const sql = dec.str();
  const n = dec.u32();
  const params: unknown[] = new Array(n);
  for (let i = 0; i < n; i++) params[i] = dec.value(true);
  const { stmt, columns } = prepare(db, cache, sql);
  // deno-lint-ignore no-explicit-any
  const args = params as any[];
  if (op === OP_EXEC) {
    const r = stmt.run(...args);
    enc.reset();
    enc.u8(R_EXEC);
    enc.value(r.changes);
    enc.value(Number(r.changes) > 0 && INSERT.test(sql) ? r.lastInsertRowid : null);
    return;
  }
  const rows = (op === OP_ONE ? [stmt.get(...args)].filter((r) => r !== undefined) : stmt.all(...args)) as
    unknown[][];
  enc.reset();
  enc.u8(R_ROWS);
  enc.u32(columns.length);
  for (const c of columns) enc.str(c);
  enc.u32(rows.length);
  for (const row of rows) for (const v of row) enc.value(v);
}

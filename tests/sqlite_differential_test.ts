/**
 * The ffi engine against the reference, `node:sqlite` in the worker
 * engine, on the same statements and values: every value class at its
 * edges and a few thousand random ones stored and read back (with
 * `typeof`, `length` and `hex` as SQLite sees them), the same errors with
 * the same codes, and a random mix of concurrent statements with
 * cancellations, after which each engine holds exactly the writes it
 * reported done.
 */
import assert from "node:assert/strict";
import { Cancelled, type DbError, sleep, spawn } from "../mod.ts";
import * as sqlite from "../drivers/sqlite.ts";
import { noLeaks } from "./leak.ts";
import { rejection } from "./rejection.ts";

/** A small deterministic generator (xorshift32), so a failure can be replayed. */
function random(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const EDGES: unknown[] = [
  0,
  -0,
  1,
  -1,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 53 - 1,
  -(2 ** 53 - 1),
  2 ** 53,
  2n ** 53n + 1n,
  -(2n ** 53n) - 1n,
  2n ** 63n - 1n,
  -(2n ** 63n),
  0.5,
  -0.1,
  1.7976931348623157e308,
  5e-324,
  Infinity,
  -Infinity,
  "",
  "a",
  "\0",
  "a\0b",
  "é中😀\u{10FFFF}",
  "a\ud800b",
  "\udc00",
  "x".repeat(100_000),
  new Uint8Array(0),
  new Uint8Array([0, 255, 1]),
  new Uint8Array(1 << 20).map((_, i) => i * 7),
  true,
  false,
  null,
  new Date("1999-12-31T23:59:59.999Z"),
];

function randomValue(next: () => number): unknown {
  const pick = Math.floor(next() * 7);
  switch (pick) {
    case 0:
      return Math.floor((next() - 0.5) * 2 ** (1 + Math.floor(next() * 53)));
    case 1:
      return (next() - 0.5) * 10 ** Math.floor(next() * 40 - 20);
    case 2:
      return BigInt.asIntN(64, BigInt(Math.floor(next() * 2 ** 32)) << 32n) +
        BigInt(Math.floor(next() * 2 ** 32));
    case 3:
    case 4: {
      const n = Math.floor(next() * 40);
      let s = "";
      for (let i = 0; i < n; i++) {
        const r = next();
        s += r < 0.6
          ? String.fromCharCode(32 + Math.floor(next() * 95))
          : r < 0.8
          ? String.fromCharCode(Math.floor(next() * 0xd800))
          : r < 0.95
          ? String.fromCodePoint(0x10000 + Math.floor(next() * 0xfffff))
          : r < 0.98
          ? "\0"
          : String.fromCharCode(0xd800 + Math.floor(next() * 0x800));
      }
      return s;
    }
    case 5:
      return new Uint8Array(Math.floor(next() * 64)).map(() => Math.floor(next() * 256));
    default:
      return null;
  }
}

async function both<T>(fn: (db: sqlite.Db) => Promise<T>): Promise<[T, T]> {
  const ffi = await sqlite.open({ path: ":memory:", engine: "ffi" });
  const worker = await sqlite.open({ path: ":memory:", engine: "worker" });
  try {
    return await Promise.all([fn(ffi), fn(worker)]);
  } finally {
    await Promise.all([ffi.close(), worker.close()]);
  }
}

const AS_TEXT = (fn: string) => `CASE WHEN typeof(x) = 'real' THEN NULL ELSE ${fn}(x) END`;

async function storeAndRead(db: sqlite.Db, values: unknown[]): Promise<unknown[]> {
  await db.exec("CREATE TABLE v (id INTEGER PRIMARY KEY, x)");
  await db.transaction(async (tx) => {
    for (const [i, x] of values.entries()) await tx.exec("INSERT INTO v VALUES (?, ?)", i, x);
  });
  const stored = await db.query(
    // A REAL's text form (its length and hex) follows the library's version.
    `SELECT id, x, typeof(x) AS t, ${AS_TEXT("length")} AS n, ${
      AS_TEXT("hex")
    } AS h FROM v ORDER BY id`,
  );
  const direct = [];
  for (const x of values.slice(0, 200)) direct.push(await db.queryOne("SELECT ? AS x", x));
  return [...stored, ...direct];
}

Deno.test(
  "sqlite differential: values at their edges and at random read back as node:sqlite reads them",
  noLeaks(async () => {
    const next = random(20261202);
    const values = [...EDGES, ...Array.from({ length: 3000 }, () => randomValue(next))];
    const [ffi, worker] = await both((db) => storeAndRead(db, values));
    assert.equal(ffi.length, worker.length);
    // Row by row, so a difference names its value without printing them all.
    for (let i = 0; i < ffi.length; i++) assert.deepEqual(ffi[i], worker[i], `row ${i}`);
  }),
);

const BAD = [
  "SELEC 1",
  "SELECT * FROM missing",
  "SELECT nope FROM t",
  "INSERT INTO t (id) VALUES (1)",
  "INSERT INTO t (id, name) VALUES ('x', 'a')",
  "INSERT INTO t (id, name) VALUES (2, NULL)",
  "INSERT INTO t (id, name, n) VALUES (3, 'a', -1)",
  "INSERT INTO c (t_id) VALUES (99)",
  "CREATE TABLE t (id INTEGER)",
  "SELECT load_extension('nope')",
  "SELECT abs(-9223372036854775808)",
  "SELECT json('{')",
];

Deno.test(
  "sqlite differential: the same errors with the same codes",
  noLeaks(async () => {
    const [ffi, worker] = await both(async (db) => {
      await db.exec(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, n CHECK (n >= 0))",
      );
      await db.exec("INSERT INTO t (id, name, n) VALUES (1, 'a', 1)");
      await db.exec("CREATE TABLE c (t_id INTEGER REFERENCES t (id))");
      const out = [];
      for (const sql of BAD) {
        const err = await rejection(db.query(sql)) as DbError;
        out.push({ sql, name: err.name, code: err.driverCode });
      }
      return out;
    });
    assert.deepEqual(ffi, worker);
  }),
);

/** Random inserts, reads and transactions from 8 tasks, a third of them cancelled in flight. */
async function churn(db: sqlite.Db, seed: number): Promise<void> {
  await db.exec("CREATE TABLE w (id INTEGER PRIMARY KEY, v TEXT)");
  const next = random(seed);
  const done = new Set<number>();
  let id = 0;
  const worker = async () => {
    for (let i = 0; i < 40; i++) {
      const mine = ++id;
      const r = next();
      const op: () => Promise<unknown> = r < 0.5
        ? () => db.exec("INSERT INTO w VALUES (?, ?)", mine, "v".repeat(mine % 50))
        : r < 0.7
        ? () =>
          db.transaction(async (tx) => {
            await tx.exec("INSERT INTO w VALUES (?, ?)", mine, "tx");
            await tx.query("SELECT count(*) FROM w");
          })
        : () => db.query("SELECT * FROM w WHERE id > ? ORDER BY id", mine - 5);
      const task = spawn(op);
      if (next() < 0.33) {
        await sleep(0);
        task.cancel();
      }
      const outcome = await task.then(() => "ok", (err) => err);
      if (outcome === "ok" && r < 0.7) done.add(mine);
      else if (outcome !== "ok") assert.ok(outcome instanceof Cancelled, String(outcome));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const stored = new Set(
    (await db.query<{ id: number }>("SELECT id FROM w")).map((row) => row.id),
  );
  for (const written of done) assert.ok(stored.has(written), `write ${written} reported done`);
  assert.deepEqual(await db.queryOne("SELECT 1 AS alive"), { alive: 1 });
}

for (const engine of ["ffi", "worker"] as const) {
  Deno.test(
    `sqlite ${engine}: concurrent statements cancelled at random keep every write reported done`,
    noLeaks(async () => {
      const dir = await Deno.makeTempDir();
      const db = await sqlite.open({ path: `${dir}/churn.db`, engine, readers: 2 });
      try {
        await churn(db, 7);
      } finally {
        await db.close();
        await Deno.remove(dir, { recursive: true });
      }
    }),
  );
}

import assert from "node:assert/strict";
import { DbError, sleep, spawn, trace } from "../mod.ts";
import * as sqlite from "../drivers/sqlite.ts";
import { noLeaks } from "./leak.ts";
import { rejection } from "./rejection.ts";
import { checkTypes, pattern, target } from "./db_targets.ts";

const t = target("sqlite");
const BIG = 9223372036854775807n;

function workers(): number {
  return trace.snapshot().counts.worker ?? 0;
}

Deno.test(
  "sqlite: type mapping",
  noLeaks(async (ctx) => {
    const db = await sqlite.open(":memory:");
    try {
      await ctx.step("bound parameters round-trip", () =>
        checkTypes(t, db, [
          ["INTEGER", 42, 42],
          ["INTEGER", 2 ** 53 - 1, 2 ** 53 - 1],
          ["INTEGER", 2n ** 53n + 1n, 2n ** 53n + 1n],
          ["INTEGER", BIG, BIG],
          ["INTEGER", -BIG - 1n, -BIG - 1n],
          ["INTEGER", 7n, 7],
          ["REAL", 0.1 + 0.2, 0.1 + 0.2],
          ["REAL", 1.7976931348623157e308, 1.7976931348623157e308],
          ["REAL", 5e-324, 5e-324],
          ["TEXT", "12345678901234567890.0123456789", "12345678901234567890.0123456789"],
          ["INTEGER", true, 1],
          ["INTEGER", false, 0],
          ["TEXT", "héllo wörld 😀 中文 \u{10FFFF}", "héllo wörld 😀 中文 \u{10FFFF}"],
          ["BLOB", pattern(200 * 1024), pattern(200 * 1024)],
          ["BLOB", new Uint8Array(0), new Uint8Array(0)],
          ["TEXT", new Date("2024-02-29T12:34:56.789Z"), "2024-02-29T12:34:56.789Z"],
          ["TEXT", null, null],
        ]));
      await ctx.step(
        "literals: integers stay exact, integral numbers bind as INTEGER",
        async () => {
          const row = await db.queryOne(
            "SELECT 9223372036854775807 AS big, typeof(?) AS i, typeof(?) AS r, 1.5 AS f",
            3,
            3.5,
          );
          assert.deepEqual(row, { big: BIG, i: "integer", r: "real", f: 1.5 });
        },
      );
      await ctx.step("a large result set grows the shared buffer", async () => {
        const rows = await db.query<{ x: number; s: string }>(
          "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000) SELECT x, printf('%0100d', x) AS s FROM c",
        );
        assert.equal(rows.length, 50000);
        assert.deepEqual(rows[49999], { x: 50000, s: "50000".padStart(100, "0") });
      });
      await ctx.step("named parameters are refused", async () => {
        const err = await rejection(db.query("SELECT :name AS n"));
        assert.ok(err instanceof DbError);
        assert.equal(err.driverCode, "PARAM_NAMED");
      });
    } finally {
      await db.close();
    }
  }),
);

Deno.test(
  "sqlite: off the event loop",
  noLeaks(async (ctx) => {
    const db = await sqlite.open(":memory:");
    try {
      await ctx.step("a timer fires while a slow query runs", async () => {
        const order: string[] = [];
        const query = spawn(async () => {
          await db.query(t.slow);
          order.push("query");
        });
        await sleep(1);
        order.push("timer");
        await query;
        assert.deepEqual(order, ["timer", "query"]);
      });
    } finally {
      await db.close();
    }
    assert.equal(workers(), 0);
  }),
);

Deno.test(
  "sqlite: file database, WAL, readers and writer",
  noLeaks(async (ctx) => {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/app.db`;
    const db = await sqlite.open({ path, readers: 2 });
    try {
      await ctx.step("WAL mode", async () => {
        assert.deepEqual(await db.queryOne("PRAGMA journal_mode"), { journal_mode: "wal" });
      });
      await db.exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)");
      await ctx.step("readers see committed data, not an open transaction's", async () => {
        await db.exec("INSERT INTO kv VALUES (?, ?)", "a", 1);
        await db.transaction(async (tx) => {
          await tx.exec("UPDATE kv SET v = ? WHERE k = ?", 2, "a");
          assert.deepEqual(await tx.queryOne("SELECT v FROM kv WHERE k = ?", "a"), { v: 2 });
          assert.deepEqual(await db.queryOne("SELECT v FROM kv WHERE k = ?", "a"), { v: 1 });
        }, { mode: "immediate" });
        assert.deepEqual(await db.queryOne("SELECT v FROM kv WHERE k = ?", "a"), { v: 2 });
      });
      await ctx.step("reads run in parallel with a slow read", async () => {
        const slow = spawn(() => db.query(t.slow));
        await sleep(20);
        const order: string[] = [];
        await db.query("SELECT * FROM kv").then(() => order.push("fast"));
        await slow.then(() => order.push("slow"));
        assert.deepEqual(order, ["fast", "slow"]);
        assert.equal(workers(), 3);
      });
      await ctx.step("transaction modes", async () => {
        for (const mode of ["deferred", "immediate", "exclusive"] as const) {
          await db.transaction((tx) => tx.exec("UPDATE kv SET v = v + 1"), { mode });
        }
        assert.deepEqual(await db.queryOne("SELECT v FROM kv"), { v: 5 });
      });
    } finally {
      await db.close();
      await Deno.remove(dir, { recursive: true });
    }
    assert.equal(workers(), 0);
  }),
);

Deno.test(
  "sqlite: open errors",
  noLeaks(async () => {
    const err = await rejection(sqlite.open("/nonexistent-dir/x/app.db"));
    assert.ok(err instanceof DbError, String(err));
    assert.match(err.message, /^connect sqlite \/nonexistent-dir\/x\/app\.db: /);
    assert.equal(workers(), 0);
  }),
);

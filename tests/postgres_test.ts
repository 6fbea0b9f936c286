import assert from "node:assert/strict";
import { Cancelled, DbError, sleep, spawn, TimeoutError } from "../mod.ts";
import { noLeaks } from "./leak.ts";
import { rejection } from "./rejection.ts";
import { checkTypes, dbTest, pattern, tableName, target } from "./db_targets.ts";

const t = target("postgres");
const BIG = 9223372036854775807n;

dbTest(
  t,
  "type mapping",
  noLeaks(async (ctx) => {
    const db = await t.open();
    try {
      await ctx.step("bound parameters round-trip", () =>
        checkTypes(t, db, [
          ["INT", 42, 42],
          ["BIGINT", 2 ** 53 - 1, 2 ** 53 - 1],
          ["BIGINT", 2n ** 53n + 1n, 2n ** 53n + 1n],
          ["BIGINT", BIG, BIG],
          ["BIGINT", -BIG - 1n, -BIG - 1n],
          ["DOUBLE PRECISION", 0.1 + 0.2, 0.1 + 0.2],
          ["DOUBLE PRECISION", 1.7976931348623157e308, 1.7976931348623157e308],
          ["DOUBLE PRECISION", 5e-324, 5e-324],
          ["NUMERIC", "12345678901234567890.0123456789", "12345678901234567890.0123456789"],
          ["BOOLEAN", true, true],
          ["BOOLEAN", false, false],
          ["TEXT", "héllo wörld 😀 中文 \u{10FFFF}", "héllo wörld 😀 中文 \u{10FFFF}"],
          ["BYTEA", pattern(200 * 1024), pattern(200 * 1024)],
          ["BYTEA", new Uint8Array(0), new Uint8Array(0)],
          [
            "TIMESTAMPTZ",
            new Date("2024-02-29T12:34:56.789Z"),
            new Date("2024-02-29T12:34:56.789Z"),
          ],
          ["TIMESTAMP", new Date("2024-02-29T12:34:56.789Z"), new Date("2024-02-29T12:34:56.789Z")],
          ["DATE", "2024-02-29", "2024-02-29"],
          ["TEXT", null, null],
        ]));
      await ctx.step("literals", async () => {
        const row = await db.queryOne(
          "SELECT 9223372036854775807::int8 AS big, 0.1::float8 + 0.2::float8 AS f, 1.50::numeric AS n",
        );
        assert.deepEqual(row, { big: BIG, f: 0.1 + 0.2, n: "1.50" });
      });
      await ctx.step("lastInsertId comes from RETURNING, else null", async () => {
        const table = tableName("lunet_ret");
        await db.exec(`CREATE TABLE ${table} (id BIGSERIAL PRIMARY KEY, v INT)`);
        try {
          const plain = await db.exec(`INSERT INTO ${table} (v) VALUES ($1)`, 1);
          assert.deepEqual(plain, { affectedRows: 1, lastInsertId: null });
          const ret = await db.exec(
            `INSERT INTO ${table} (v) VALUES ($1), ($2) RETURNING id`,
            2,
            3,
          );
          assert.deepEqual(ret, { affectedRows: 2, lastInsertId: 3 });
        } finally {
          await db.exec(`DROP TABLE ${table}`);
        }
      });
      await ctx.step("a script of several statements without parameters", async () => {
        const table = tableName("lunet_script");
        await db.exec(
          `CREATE TABLE ${table} (v INT); INSERT INTO ${table} VALUES (1); DROP TABLE ${table}`,
        );
      });
    } finally {
      await db.close();
    }
  }),
);

dbTest(
  t,
  "pipelined statements: cancelling one leaves the others alone",
  noLeaks(async () => {
    const db = await t.open(1);
    try {
      const slow = spawn(() => db.query(t.slow));
      await sleep(50);
      const queued = db.query("SELECT $1::int AS n", 7);
      slow.cancel();
      assert.ok((await rejection(slow)) instanceof Cancelled);
      assert.deepEqual(await queued, [{ n: 7 }]);
    } finally {
      await db.close();
    }
  }),
);

dbTest(
  t,
  "a statement given up while queued behind another on its connection does not run",
  noLeaks(async () => {
    const db = await t.open(1);
    const table = tableName("lunet_queued");
    await db.exec(`CREATE TABLE ${table} (v INT)`);
    try {
      const slow = db.query("SELECT pg_sleep(0.5) AS n");
      await sleep(50);
      const cancelled = spawn(() => db.exec(`INSERT INTO ${table} VALUES ($1)`, 1));
      const simple = spawn(() => db.exec(`INSERT INTO ${table} VALUES (2)`));
      const timedOut = db.exec({
        sql: `INSERT INTO ${table} VALUES ($1)`,
        params: [3],
        timeout: 100,
      });
      const kept = db.exec(`INSERT INTO ${table} VALUES ($1)`, 4);
      await sleep(50);
      cancelled.cancel();
      simple.cancel();
      assert.ok((await rejection(cancelled)) instanceof Cancelled);
      assert.ok((await rejection(simple)) instanceof Cancelled);
      assert.ok((await rejection(timedOut)) instanceof TimeoutError);
      await slow;
      assert.deepEqual(await kept, { affectedRows: 1, lastInsertId: null });
      assert.deepEqual(await db.query(`SELECT v FROM ${table} ORDER BY v`), [{ v: 4 }]);
    } finally {
      await db.exec(`DROP TABLE ${table}`);
      await db.close();
    }
  }),
);

dbTest(
  t,
  "cached prepared statements are prepared again after the table they use changes",
  noLeaks(async (ctx) => {
    const db = await t.open(1);
    const table = tableName("lunet_ddl");
    const byId = `SELECT id, v FROM ${table} WHERE id = $1`;
    const byValue = `SELECT id FROM ${table} WHERE v = $1`;
    await db.exec(`CREATE TABLE ${table} (id INT, v INT)`);
    try {
      await db.exec(`INSERT INTO ${table} VALUES ($1, $2)`, 1, 10);
      assert.deepEqual(await db.query(byId, 1), [{ id: 1, v: 10 }]);
      assert.deepEqual(await db.query(byValue, 10), [{ id: 1 }]);
      await ctx.step("a column changes type", async () => {
        await db.exec(`ALTER TABLE ${table} ALTER COLUMN v TYPE TEXT`);
        await db.exec(`UPDATE ${table} SET v = 'ten'`);
        assert.deepEqual(await db.query(byId, 1), [{ id: 1, v: "ten" }]);
        assert.deepEqual(await db.query(byValue, "ten"), [{ id: 1 }]);
      });
      await ctx.step("the table is dropped and created again", async () => {
        await db.exec(`DROP TABLE ${table}`);
        await db.exec(`CREATE TABLE ${table} (id TEXT, v BOOLEAN)`);
        await db.exec(`INSERT INTO ${table} VALUES ($1, $2)`, "a", true);
        assert.deepEqual(await db.query(byId, "a"), [{ id: "a", v: true }]);
        assert.deepEqual(await db.query(byValue, true), [{ id: "a" }]);
      });
      await ctx.step(
        "inside a transaction the error stands; the statement is prepared again after it",
        async () => {
          await db.exec(`ALTER TABLE ${table} ALTER COLUMN v TYPE INT USING v::int`);
          const err = await rejection(db.transaction((tx) => tx.query(byValue, 1)));
          assert.ok(err instanceof DbError, String(err));
          assert.deepEqual(await db.query(byValue, 1), [{ id: "a" }]);
          assert.deepEqual(await db.transaction((tx) => tx.query(byValue, 1)), [{ id: "a" }]);
          assert.deepEqual(await db.query(byId, "a"), [{ id: "a", v: 1 }]);
        },
      );
    } finally {
      await db.exec(`DROP TABLE IF EXISTS ${table}`);
      await db.close();
    }
  }),
);

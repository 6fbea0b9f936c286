import assert from "node:assert/strict";
import { DbError, sleep, spawn, trace } from "../mod.ts";
import * as sqlite from "../drivers/sqlite.ts";
import { noLeaks } from "./leak.ts";
import { rejection } from "./rejection.ts";
import { checkTypes, pattern, target } from "./db_targets.ts";

const t = target("sqlite");
const BIG = 9223372036854775807n;

/** Open SQLite connections, of either engine (a worker each, or a library handle each). */
function connections(): number {
  const { counts } = trace.snapshot();
  return (counts.worker ?? 0) + (counts.sqlite ?? 0);
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
    assert.equal(connections(), 0);
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
        assert.equal(connections(), 3);
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
    assert.equal(connections(), 0);
  }),
);

Deno.test(
  "sqlite: open errors",
  noLeaks(async () => {
    const err = await rejection(sqlite.open("/nonexistent-dir/x/app.db"));
    assert.ok(err instanceof DbError, String(err));
    assert.match(err.message, /^connect sqlite \/nonexistent-dir\/x\/app\.db: /);
    assert.equal(connections(), 0);
  }),
);

const WIDE = ["a", "é", "中", "😀"];

/** Strings of every length from 0 to 70 characters, ASCII and not, with NULs and a lone surrogate. */
function textCases(): Array<[input: string, output: string]> {
  const cases: Array<[string, string]> = [];
  for (let n = 0; n <= 70; n++) {
    const ascii = Array.from({ length: n }, (_, i) => String.fromCharCode(0x20 + (i * 7) % 95))
      .join("");
    cases.push([ascii, ascii]);
    const wide = Array.from({ length: n }, (_, i) => WIDE[i % 4]).join("");
    cases.push([wide, wide]);
  }
  for (const s of ["a\0b", "\0", "\0\0", "x".repeat(40) + "\0" + "y".repeat(40), "é\0中\0😀"]) {
    cases.push([s, s]);
  }
  cases.push(["a\ud800b", "a\ufffdb"]);
  return cases;
}

Deno.test(
  "sqlite: text round-trips exactly at every length, with NULs; a lone surrogate becomes U+FFFD",
  noLeaks(async (ctx) => {
    const db = await sqlite.open(":memory:");
    try {
      const cases = textCases();
      await db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, w TEXT)");
      await db.transaction(async (tx) => {
        for (const [i, [input]] of cases.entries()) {
          await tx.exec("INSERT INTO t VALUES (?, ?, ?)", i, input, "plain");
        }
      });
      await ctx.step("stored as TEXT of the full length", async () => {
        const row = await db.queryOne(
          "SELECT typeof(v) AS t, length(CAST(v AS BLOB)) AS n FROM t WHERE id = ?",
          cases.length - 3,
        );
        assert.deepEqual(row, { t: "text", n: 81 });
      });
      await ctx.step("read back by query, queryOne and through an expression", async () => {
        const rows = await db.query<{ id: number; v: string; w: string }>(
          "SELECT id, v, w FROM t ORDER BY id",
        );
        assert.deepEqual(rows.map((r) => r.v), cases.map(([, output]) => output));
        assert.ok(rows.every((r) => r.w === "plain"));
        const [input, output] = cases[cases.length - 3];
        assert.deepEqual(await db.queryOne("SELECT v FROM t WHERE v = ?", input), { v: output });
        assert.deepEqual(await db.queryOne("SELECT ? || 'z' AS v", "a\0b"), { v: "a\0bz" });
        assert.deepEqual(
          await db.queryOne("WITH x(s) AS (SELECT ?) SELECT s, s AS s2 FROM x", "\0"),
          { s: "\0", s2: "\0" },
        );
      });
    } finally {
      await db.close();
    }
  }),
);

Deno.test(
  "sqlite: SQL holding several statements runs them all in exec, and is refused elsewhere",
  noLeaks(async (ctx) => {
    const db = await sqlite.open(":memory:");
    try {
      await ctx.step("exec without parameters runs every statement, in order", async () => {
        const res = await db.exec(
          "CREATE TABLE a (x); CREATE TABLE b (y);\n INSERT INTO a VALUES (1), (2); -- done",
        );
        assert.deepEqual(res, { affectedRows: 2, lastInsertId: 2 });
        assert.deepEqual(await db.query("SELECT name FROM sqlite_master ORDER BY name"), [
          { name: "a" },
          { name: "b" },
        ]);
      });
      await ctx.step("with parameters, or for rows: a clear error, nothing run", async () => {
        for (
          const call of [
            () => db.exec("INSERT INTO a VALUES (?); INSERT INTO b VALUES (?)", 7, 8),
            () => db.query("SELECT 1 AS one; SELECT 2 AS two"),
            () => db.queryOne("SELECT * FROM a; DELETE FROM a"),
          ]
        ) {
          const err = await rejection(call());
          assert.ok(err instanceof DbError, String(err));
          assert.equal(err.driverCode, "MULTI_STATEMENT");
          assert.match(err.message, /more than one statement/);
        }
        assert.deepEqual(await db.queryOne("SELECT count(*) AS n FROM a"), { n: 2 });
        assert.deepEqual(await db.queryOne("SELECT count(*) AS n FROM b"), { n: 0 });
      });
      await ctx.step("leading semicolons and comments, and SQL with no statement", async () => {
        assert.deepEqual(await db.query(";; -- note\n/* x */ SELECT 4 AS n"), [{ n: 4 }]);
        assert.deepEqual(await db.exec(" ; -- nothing"), { affectedRows: 0, lastInsertId: null });
        assert.deepEqual(await db.query(""), []);
        assert.equal(await db.queryOne("/* */"), null);
      });
      await ctx.step("a statement that changes nothing reports no changes", async () => {
        await db.exec("CREATE TABLE z (x)");
        for (const x of [1, 2, 3]) await db.exec("INSERT INTO z VALUES (?)", x);
        assert.equal((await db.exec("UPDATE z SET x = x + 1")).affectedRows, 3);
        assert.deepEqual(await db.exec("SELECT 1"), { affectedRows: 0, lastInsertId: null });
        assert.deepEqual(await db.exec("CREATE TABLE c (z)"), {
          affectedRows: 0,
          lastInsertId: null,
        });
      });
    } finally {
      await db.close();
    }
  }),
);

Deno.test(
  "sqlite: a transaction mode that is not deferred, immediate or exclusive is a TypeError, and no SQL runs",
  noLeaks(async () => {
    const db = await sqlite.open(":memory:");
    try {
      await db.exec("CREATE TABLE kept (x INTEGER)");
      for (const mode of ["deferred; DROP TABLE kept; --", "IMMEDIATE ", 7, null]) {
        await assert.rejects(db.transaction(() => {}, { mode: mode as never }), {
          name: "TypeError",
          message: `sqlite: transaction mode must be "deferred", "immediate" or "exclusive", got ${
            typeof mode === "string" ? JSON.stringify(mode) : String(mode)
          }`,
        });
      }
      assert.deepEqual(await db.query("SELECT count(*) AS n FROM kept"), [{ n: 0 }]);
      assert.equal(await db.transaction(() => "done", { mode: "exclusive" }), "done");
    } finally {
      await db.close();
    }
  }),
);

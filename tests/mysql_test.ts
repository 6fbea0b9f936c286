import assert from "node:assert/strict";
import { DbError } from "../mod.ts";
import { noLeaks } from "./leak.ts";
import { rejection } from "./rejection.ts";
import * as mysql from "../drivers/mysql.ts";
import {
  checkTypes,
  dbTest,
  giveUpThenNext,
  MYSQL_URL,
  pattern,
  tableName,
  target,
} from "./db_targets.ts";

const t = target("mysql");
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
          ["DOUBLE", 0.1 + 0.2, 0.1 + 0.2],
          ["DOUBLE", 1.7976931348623157e308, 1.7976931348623157e308],
          ["DOUBLE", 2.2250738585072014e-308, 2.2250738585072014e-308],
          ["DECIMAL(30,10)", "12345678901234567890.0123456789", "12345678901234567890.0123456789"],
          ["BOOLEAN", true, true],
          ["BOOLEAN", false, false],
          ["TEXT", "héllo wörld 😀 中文 \u{10FFFF}", "héllo wörld 😀 中文 \u{10FFFF}"],
          ["LONGBLOB", pattern(200 * 1024), pattern(200 * 1024)],
          ["VARBINARY(16)", new Uint8Array([0, 1, 0, 255]), new Uint8Array([0, 1, 0, 255])],
          [
            "DATETIME(3)",
            new Date("2024-02-29T12:34:56.789Z"),
            new Date("2024-02-29T12:34:56.789Z"),
          ],
          [
            "TIMESTAMP(3) NULL",
            new Date("2024-02-29T12:34:56.789Z"),
            new Date("2024-02-29T12:34:56.789Z"),
          ],
          ["DATE", "2024-02-29", "2024-02-29"],
          ["TEXT", null, null],
        ]));
      await ctx.step("literals", async () => {
        const row = await db.queryOne("SELECT 9223372036854775807 AS big, 1.5e0 AS f, 1 AS i");
        assert.deepEqual(row, { big: BIG, f: 1.5, i: 1 });
      });
      await ctx.step("lastInsertId beyond 2^53", async () => {
        const table = tableName("lunet_big_id");
        await db.exec(`CREATE TABLE ${table} (id BIGINT AUTO_INCREMENT PRIMARY KEY, v INT)`);
        try {
          await db.exec(`INSERT INTO ${table} (id, v) VALUES (?, ?)`, 2n ** 60n, 1);
          const r = await db.exec(`INSERT INTO ${table} (v) VALUES (?)`, 2);
          assert.equal(r.lastInsertId, 2n ** 60n + 1n);
        } finally {
          await db.exec(`DROP TABLE ${table}`);
        }
      });
    } finally {
      await db.close();
    }
  }),
);

dbTest(
  t,
  "integers are bound as integers, exactly, at the BIGINT edges",
  noLeaks(async (ctx) => {
    const db = await t.open(1);
    const MIN = -(2n ** 63n), UMAX = 2n ** 64n - 1n;
    try {
      await ctx.step(
        "SELECT ? returns a bigint as a bigint, a safe integer as a number",
        async () => {
          assert.deepEqual(await db.queryOne("SELECT ? AS v", 2n ** 62n + 1n), {
            v: 2n ** 62n + 1n,
          });
          assert.deepEqual(await db.queryOne("SELECT ? AS v", MIN), { v: MIN });
          assert.deepEqual(await db.queryOne("SELECT ? AS v", UMAX), { v: UMAX });
          assert.deepEqual(await db.queryOne("SELECT ? AS v", 42), { v: 42 });
        },
      );
      await ctx.step("arithmetic and CAST keep every digit", async () => {
        for (const v of [2n ** 62n + 1n, BIG, MIN, 2n ** 53n + 1n]) {
          assert.deepEqual(await db.queryOne("SELECT ? + 0 AS v", v), { v }, `${v} + 0`);
          assert.deepEqual(await db.queryOne("SELECT CAST(? AS SIGNED) AS v", v), { v }, `${v}`);
        }
        assert.deepEqual(await db.queryOne("SELECT CAST(? AS UNSIGNED) AS v", UMAX), { v: UMAX });
        assert.deepEqual(await db.queryOne("SELECT ? + 0 AS v", 2 ** 53 - 1), { v: 2 ** 53 - 1 });
        assert.deepEqual(await db.queryOne("SELECT ? + 0 AS v", 1.5), { v: 1.5 });
        assert.deepEqual(await db.queryOne("SELECT CAST(? AS DECIMAL(30)) AS v", 2n ** 70n), {
          v: String(2n ** 70n),
        });
      });
      await ctx.step("UPDATE n = n + ? on a BIGINT at 2^62 adds exactly 1", async () => {
        const table = tableName("lunet_incr");
        await db.exec(`CREATE TABLE ${table} (id INT PRIMARY KEY, n BIGINT, u BIGINT UNSIGNED)`);
        try {
          await db.exec(
            `INSERT INTO ${table} VALUES (1, ?, ?), (2, ?, ?)`,
            2n ** 62n,
            0,
            MIN,
            UMAX,
          );
          await db.exec(`UPDATE ${table} SET n = n + ? WHERE id = 1`, 1);
          await db.exec(`UPDATE ${table} SET n = n + ? WHERE id = 2`, 1n);
          await db.exec(`UPDATE ${table} SET u = u - ? WHERE id = 2`, 1);
          assert.deepEqual(await db.query(`SELECT n, u FROM ${table} ORDER BY id`), [
            { n: 2n ** 62n + 1n, u: 0 },
            { n: MIN + 1n, u: UMAX - 1n },
          ]);
        } finally {
          await db.exec(`DROP TABLE ${table}`);
        }
      });
    } finally {
      await db.close();
    }
  }),
);

dbTest(
  t,
  "an invalid Date is refused before sending, naming the parameter",
  noLeaks(async () => {
    const db = await t.open(1);
    const table = tableName("lunet_bad_date");
    try {
      await db.exec(`CREATE TABLE ${table} (id INT, d DATETIME)`);
      const err = await rejection(db.exec(`INSERT INTO ${table} VALUES (?, ?)`, 1, new Date(NaN)));
      assert.ok(err instanceof DbError, String(err));
      assert.equal(err.driverCode, "PARAM_INVALID");
      assert.match(err.message, /parameter 2 is an invalid Date/);
      assert.deepEqual(await db.query(`SELECT * FROM ${table}`), []);
    } finally {
      await db.exec(`DROP TABLE IF EXISTS ${table}`);
      await db.close();
    }
  }),
);

dbTest(
  t,
  "a host that is a path connects to the server's Unix socket",
  noLeaks(async (ctx) => {
    const tcp = await t.open(1);
    let socket: string;
    try {
      socket = (await tcp.queryOne<{ s: string }>("SELECT @@socket AS s"))!.s;
    } finally {
      await tcp.close();
    }
    const url = new URL(MYSQL_URL);
    // "localhost" names a client on the server's Unix socket, "host:port" one on TCP.
    const via = "SELECT host FROM information_schema.processlist WHERE id = CONNECTION_ID()";
    await ctx.step("as a field, as ?socket= and as the URL's encoded host", async () => {
      for (
        const config of [
          { url: MYSQL_URL, host: socket },
          `${MYSQL_URL}?socket=${encodeURIComponent(socket)}`,
          `mysql://${url.username}@${encodeURIComponent(socket)}${url.pathname}`,
        ]
      ) {
        const db = await mysql.open(config);
        try {
          assert.deepEqual(await db.queryOne(via), { host: "localhost" }, JSON.stringify(config));
        } finally {
          await db.close();
        }
      }
    });
    await ctx.step("a timed-out statement is stopped through the socket too", async () => {
      const db = await mysql.open({ url: MYSQL_URL, host: socket, pool: 1 });
      try {
        await giveUpThenNext(db, "SELECT SLEEP(30) AS n");
      } finally {
        await db.close();
      }
    });
    await ctx.step("a path with no server's socket fails the open", async () => {
      const err = await rejection(mysql.open({ url: MYSQL_URL, host: `${socket}.none` }));
      assert.ok(err instanceof DbError, String(err));
      assert.match(err.message, new RegExp(`^connect mysql ${socket}\\.none/`));
    });
  }),
);

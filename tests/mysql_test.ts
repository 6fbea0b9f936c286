import assert from "node:assert/strict";
import { noLeaks } from "./leak.ts";
import { checkTypes, dbTest, pattern, tableName, target } from "./db_targets.ts";

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

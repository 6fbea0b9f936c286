import assert from "node:assert/strict";
import { DbError } from "../mod.ts";
import * as postgres from "../drivers/postgres.ts";
import type { Db, Queryable } from "../drivers/_types.ts";
import { noLeaks } from "./leak.ts";
import { rejection } from "./rejection.ts";
import { dbTest, POSTGRES_URL, tableName, target } from "./db_targets.ts";

const t = target("postgres");

const STAMP = new Date("2024-02-29T23:34:56.789Z");

/** Writes `STAMP` through bound parameters into timestamp, timestamptz and date columns and reads it back. */
async function roundTripDates(db: Queryable): Promise<void> {
  const table = tableName("lunet_tz");
  await db.exec(`CREATE TEMP TABLE ${table} (ts TIMESTAMP, tz TIMESTAMPTZ, d DATE)`);
  try {
    await db.exec(`INSERT INTO ${table} VALUES ($1, $2, $3)`, STAMP, STAMP, STAMP);
    const row = await db.queryOne(
      `SELECT ts, tz, d, ts::text AS ts_text, d::text AS d_text,
              tz = '2024-02-29T23:34:56.789Z'::timestamptz AS same_instant FROM ${table}`,
    );
    assert.deepEqual(row, {
      ts: STAMP,
      tz: STAMP,
      d: "2024-02-29",
      ts_text: "2024-02-29 23:34:56.789",
      d_text: "2024-02-29",
      same_instant: true,
    });
    assert.deepEqual(
      await db.queryOne(`SELECT ts FROM ${table} WHERE ts = $1`, STAMP),
      { ts: STAMP },
      "a bound Date finds the timestamp it stored",
    );
  } finally {
    await db.exec(`DROP TABLE ${table}`);
  }
}

/** Reads timestamps computed by the server and literals with offsets. */
async function readServerStamps(db: Queryable): Promise<void> {
  const row = await db.queryOne<Record<string, Date>>(
    `SELECT now()::timestamp AS cast_now, localtimestamp AS local_now, now() AS now,
            '2024-02-29 18:04:56.789+05:30'::timestamptz AS kolkata,
            '1900-01-01 00:00:00+05:21:10'::timestamptz AS lmt,
            '2024-02-29 12:34:56.789123'::timestamp AS micros`,
  );
  assert.ok(row);
  for (const key of ["cast_now", "local_now", "now"]) {
    const skew = Math.abs(row[key].getTime() - Date.now());
    assert.ok(skew < 60_000, `${key} is ${row[key].toISOString()}, ${skew} ms from now`);
  }
  assert.deepEqual(row.kolkata, new Date("2024-02-29T12:34:56.789Z"));
  assert.deepEqual(row.lmt, new Date("1899-12-31T18:38:50.000Z"));
  assert.deepEqual(row.micros, new Date("2024-02-29T12:34:56.789Z"));
}

dbTest(
  t,
  "a server TimeZone other than UTC does not shift timestamp, timestamptz or date values",
  noLeaks(async (ctx) => {
    const admin = await t.open(1);
    const name = tableName("lunet_tz_db");
    await admin.exec(`CREATE DATABASE ${name}`);
    let db: Db | undefined;
    try {
      await admin.exec(`ALTER DATABASE ${name} SET TimeZone TO 'America/New_York'`);
      db = await postgres.open({ url: POSTGRES_URL, database: name, pool: 2 });
      const conn = db;
      await ctx.step("bound Dates round-trip", () => roundTripDates(conn));
      await ctx.step(
        "timestamps the server computes read as the current instant",
        () => readServerStamps(conn),
      );
    } finally {
      await db?.close();
      await admin.exec(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.close();
    }
  }),
);

dbTest(
  t,
  "a session TimeZone set with SET does not shift bound Dates",
  noLeaks(async () => {
    const db = await t.open(1);
    try {
      for (const zone of ["Asia/Kolkata", "America/New_York"]) {
        await db.transaction(async (tx) => {
          await tx.exec(`SET LOCAL TIME ZONE '${zone}'`);
          await roundTripDates(tx);
          const row = await tx.queryOne<{ kolkata: Date; lmt: Date }>(
            `SELECT '2024-02-29 18:04:56.789+05:30'::timestamptz AS kolkata,
                    '1900-01-01 00:00:00+05:21:10'::timestamptz AS lmt`,
          );
          assert.deepEqual(row, {
            kolkata: new Date("2024-02-29T12:34:56.789Z"),
            lmt: new Date("1899-12-31T18:38:50.000Z"),
          });
        });
      }
    } finally {
      await db.close();
    }
  }),
);

dbTest(
  t,
  'arrays: NULL elements read as null, quoted "NULL" stays a string',
  noLeaks(async () => {
    const db = await t.open(1);
    try {
      const row = await db.queryOne(`SELECT
        ARRAY[1, NULL, 3]::int4[] AS i4,
        ARRAY[NULL, 9007199254740993]::int8[] AS i8,
        ARRAY[1.5, NULL, 'NaN', 'Infinity']::float8[] AS f8,
        ARRAY[true, NULL, false]::bool[] AS b,
        ARRAY['1.50', NULL]::numeric[] AS n,
        ARRAY['a', NULL, 'NULL', 'null', '', 'x,y', 'q"\\u']::text[] AS t,
        ARRAY[['a', NULL], [NULL, 'NULL']]::text[][] AS nested,
        ARRAY[[1, 2], [NULL, 4]]::int4[][] AS nested_int,
        ARRAY['2024-02-29 12:34:56.789', NULL]::timestamp[] AS ts,
        '{}'::int4[] AS empty,
        '{}'::text[] AS empty_text,
        '[0:1]={7,NULL}'::int4[] AS bounded`);
      assert.deepEqual(row, {
        i4: [1, null, 3],
        i8: [null, 9007199254740993n],
        f8: [1.5, null, NaN, Infinity],
        b: [true, null, false],
        n: ["1.50", null],
        t: ["a", null, "NULL", "null", "", "x,y", 'q"\\u'],
        nested: [["a", null], [null, "NULL"]],
        nested_int: [[1, 2], [null, 4]],
        ts: [new Date("2024-02-29T12:34:56.789Z"), null],
        empty: [],
        empty_text: [],
        bounded: [7, null],
      });
      const bound = await db.queryOne(
        "SELECT $1::int4[] AS i, $2::text[] AS t",
        [1, null, 3],
        ["NULL", null],
      );
      assert.deepEqual(bound, { i: [1, null, 3], t: ["NULL", null] });
    } finally {
      await db.close();
    }
  }),
);

dbTest(
  t,
  "json: a string parameter is JSON text for the server, objects are serialized once",
  noLeaks(async () => {
    const db = await t.open(1);
    const table = tableName("lunet_json");
    await db.exec(`CREATE TABLE ${table} (id INT, j JSON, jb JSONB)`);
    try {
      await db.exec(`INSERT INTO ${table} VALUES (1, $1, $2)`, '{"a":1}', '{"a":1}');
      await db.exec(`INSERT INTO ${table} VALUES (2, $1::json, $2::jsonb)`, '[1,"x"]', '"s"');
      await db.exec(`INSERT INTO ${table} VALUES (3, $1, $2)`, { a: [1, { b: "c" }] }, [1, "x"]);
      const rows = await db.query(
        `SELECT id, j, jb, json_typeof(j) AS jt, jsonb_typeof(jb) AS jbt FROM ${table} ORDER BY id`,
      );
      assert.deepEqual(rows, [
        { id: 1, j: { a: 1 }, jb: { a: 1 }, jt: "object", jbt: "object" },
        { id: 2, j: [1, "x"], jb: "s", jt: "array", jbt: "string" },
        { id: 3, j: { a: [1, { b: "c" }] }, jb: [1, "x"], jt: "object", jbt: "array" },
      ]);
      const err = await rejection(db.exec(`INSERT INTO ${table} VALUES (4, $1, NULL)`, "not json"));
      assert.ok(err instanceof DbError);
      assert.equal(err.sqlState, "22P02");
    } finally {
      await db.exec(`DROP TABLE ${table}`);
      await db.close();
    }
  }),
);

dbTest(
  t,
  "an invalid Date inside an array parameter is refused before it is sent",
  noLeaks(async () => {
    const db = await t.open(1);
    try {
      const err = await rejection(
        db.queryOne("SELECT $1::timestamptz[] AS d", [STAMP, new Date(NaN)]),
      );
      assert.ok(err instanceof DbError, String(err));
      assert.match(err.message, /parameter 1 holds an invalid Date/);
      assert.deepEqual(await db.queryOne("SELECT $1::timestamptz[] AS d", [STAMP, null]), {
        d: [STAMP, null],
      });
    } finally {
      await db.close();
    }
  }),
);

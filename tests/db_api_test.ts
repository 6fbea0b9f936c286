// The API contract shared by the SQLite, MySQL and PostgreSQL drivers, run
// against each of them.
import assert from "node:assert/strict";
import { Cancelled, ClosedError, DbError, scope, sleep, spawn, TimeoutError } from "../mod.ts";
import type { Db } from "../drivers/_types.ts";
import { noLeaks } from "./leak.ts";
import { rejection } from "./rejection.ts";
import { dbTest, ph, serverKill, tableName, type Target, targets } from "./db_targets.ts";

async function withTable(
  t: Target,
  body: (db: Db, table: string) => Promise<void>,
  pool?: number,
): Promise<void> {
  const db = await t.open(pool);
  const table = tableName("lunet_api");
  try {
    await db.exec(`CREATE TABLE ${table} (id ${t.autoId}, name TEXT, score INT)`);
    await body(db, table);
  } finally {
    if (!db.closed) await db.exec(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
    await db.close();
  }
}

for (const t of targets) {
  const q = (sql: string) => ph(t, sql);

  dbTest(
    t,
    "CRUD: insert, select, update, delete",
    noLeaks(async (ctx) => {
      await withTable(t, async (db, table) => {
        await ctx.step("insert reports lastInsertId", async () => {
          const a = await db.exec(
            q(`INSERT INTO ${table} (name, score) VALUES (?, ?)${t.returning}`),
            "ann",
            10,
          );
          const b = await db.exec(
            q(`INSERT INTO ${table} (name, score) VALUES (?, ?)${t.returning}`),
            "bob",
            null,
          );
          assert.equal(a.affectedRows, 1);
          assert.equal(a.lastInsertId, 1);
          assert.equal(b.lastInsertId, 2);
        });
        await ctx.step("query returns rows keyed by column, NULL as null", async () => {
          const rows = await db.query(`SELECT id, name, score FROM ${table} ORDER BY id`);
          assert.deepEqual(rows, [{ id: 1, name: "ann", score: 10 }, {
            id: 2,
            name: "bob",
            score: null,
          }]);
        });
        await ctx.step("queryOne returns a row or null", async () => {
          assert.deepEqual(await db.queryOne(q(`SELECT name FROM ${table} WHERE id = ?`), 2), {
            name: "bob",
          });
          assert.equal(await db.queryOne(q(`SELECT name FROM ${table} WHERE id = ?`), 99), null);
        });
        await ctx.step("statement object with params and timeout", async () => {
          const rows = await db.query({
            sql: q(`SELECT name FROM ${table} WHERE score = ?`),
            params: [10],
            timeout: 5000,
          });
          assert.deepEqual(rows, [{ name: "ann" }]);
        });
        await ctx.step("update and delete report affectedRows", async () => {
          const u = await db.exec(
            q(`UPDATE ${table} SET score = ? WHERE score IS NULL OR score < ?`),
            5,
            100,
          );
          assert.equal(u.affectedRows, 2);
          assert.equal(u.lastInsertId, null);
          const d = await db.exec(q(`DELETE FROM ${table} WHERE name = ?`), "ann");
          assert.equal(d.affectedRows, 1);
          assert.equal((await db.query(`SELECT * FROM ${table}`)).length, 1);
        });
      });
    }),
  );

  dbTest(
    t,
    "parameters: count checked before running, injection stored verbatim",
    noLeaks(async (ctx) => {
      await withTable(t, async (db, table) => {
        await ctx.step("too few or too many parameters", async () => {
          const insert = q(`INSERT INTO ${table} (name, score) VALUES (?, ?)`);
          for (const args of [["x"], ["x", 1, 2]]) {
            const err = await rejection(db.exec(insert, ...args));
            assert.ok(err instanceof DbError);
            assert.equal(err.driverCode, "PARAM_COUNT");
            assert.match(err.message, /expects 2 parameter\(s\), got/);
          }
          assert.equal((await db.query(`SELECT * FROM ${table}`)).length, 0);
        });
        await ctx.step("a statement that ran before is checked again on every call", async () => {
          const select = q(`SELECT name FROM ${table} WHERE name = ? AND score = ?`);
          assert.deepEqual(await db.query(select, "x", 1), []);
          for (const args of [["x"], ["x", 1, 2], ["x", undefined]]) {
            const err = await rejection(db.query(select, ...args));
            assert.ok(err instanceof DbError, String(err));
            assert.match(String(err.driverCode), /^PARAM_(COUNT|UNDEFINED)$/);
          }
          assert.deepEqual(await db.query(select, "x", 1), []);
        });
        await ctx.step("placeholders inside literals and comments are not counted", async () => {
          const sql = t.name === "postgres"
            ? "SELECT '$2' AS a, $1 AS b -- $3\n/* $4 */"
            : "SELECT '?' AS a, ? AS b -- ?\n/* ? */";
          const row = await db.queryOne(sql, "v");
          assert.deepEqual(row, { a: t.name === "postgres" ? "$2" : "?", b: "v" });
        });
        await ctx.step("the other driver's placeholder style is named in the error", async () => {
          const [sql, style, native, foreign] = t.name === "postgres"
            ? ["SELECT ? AS a", "\\$1, \\$2 … placeholders", "`\\$n`", "`\\?`"]
            : ["SELECT $1 AS a", "\\? placeholders", "`\\?`", "`\\$n`"];
          const err = await rejection(db.query(sql, 1));
          assert.ok(err instanceof DbError, String(err));
          assert.equal(err.driverCode, "PARAM_COUNT");
          assert.match(
            err.message,
            new RegExp(
              `${t.name} uses ${style}; got 1 parameter\\(s\\) for a statement with 0 ${native} placeholders but 1 ${foreign}`,
            ),
          );
        });
        await ctx.step(
          "NaN and invalid Dates are refused before running, by position",
          async () => {
            const insert = q(`INSERT INTO ${table} (name, score) VALUES (?, ?)`);
            for (
              const [args, what] of [
                [["x", NaN], "parameter 2 is NaN"],
                [[new Date(NaN), 1], "parameter 1 is an invalid Date"],
                [["x", Symbol("s")], "parameter 2 is a symbol"],
                [[() => 1, 1], "parameter 1 is a function"],
              ] as const
            ) {
              const err = await rejection(db.exec(insert, ...args));
              assert.ok(err instanceof DbError, String(err));
              assert.equal(err.driverCode, "PARAM_INVALID");
              assert.match(err.message, new RegExp(`^${t.name}: ${what}`));
            }
            assert.equal((await db.query(`SELECT * FROM ${table}`)).length, 0);
          },
        );
        await ctx.step(
          "a statement that is not text or a statement object is a TypeError",
          async () => {
            for (const sql of [42, null, { params: [] }]) {
              const err = await rejection(db.query(sql as never));
              assert.ok(err instanceof TypeError, String(err));
              assert.equal(
                err.message,
                "query: the statement must be a string or { sql, params }, got " +
                  (sql === null ? "null" : typeof sql),
              );
            }
          },
        );
        await ctx.step("undefined is refused", async () => {
          const err = await rejection(db.query(q("SELECT ? AS a"), undefined));
          assert.ok(err instanceof DbError);
          assert.equal(err.driverCode, "PARAM_UNDEFINED");
        });
        await ctx.step("injection attempts are stored verbatim", async () => {
          const evil = [
            `'); DROP TABLE ${table}; --`,
            `" OR 1=1 --`,
            "\\'; SELECT 1; /*",
            "Robert'); DELETE FROM students;--",
          ];
          for (const s of evil) await db.exec(q(`INSERT INTO ${table} (name) VALUES (?)`), s);
          const rows = await db.query<{ name: string }>(`SELECT name FROM ${table} ORDER BY id`);
          assert.deepEqual(rows.map((r) => r.name), evil);
          const one = await db.query(q(`SELECT name FROM ${table} WHERE name = ?`), `" OR 1=1 --`);
          assert.equal(one.length, 1);
        });
      });
    }),
  );

  dbTest(
    t,
    "transactions: commit, rollback, nested savepoints",
    noLeaks(async (ctx) => {
      await withTable(t, async (db, table) => {
        const names = async () =>
          (await db.query<{ name: string }>(`SELECT name FROM ${table} ORDER BY id`)).map((r) =>
            r.name
          );
        const insert = q(`INSERT INTO ${table} (name) VALUES (?)`);
        await ctx.step("commit on return, with the function's result", async () => {
          const out = await db.transaction(async (tx) => {
            await tx.exec(insert, "a");
            return 7;
          });
          assert.equal(out, 7);
          assert.deepEqual(await names(), ["a"]);
        });
        await ctx.step("rollback on throw, error rethrown", async () => {
          const boom = new Error("boom");
          const err = await rejection(db.transaction(async (tx) => {
            await tx.exec(insert, "b");
            throw boom;
          }));
          assert.equal(err, boom);
          assert.deepEqual(await names(), ["a"]);
        });
        await ctx.step(
          "a negative timeout in a transaction fails that statement only",
          async () => {
            const out = await db.transaction(async (tx) => {
              const err = await rejection(tx.query({ sql: "SELECT 1 AS one", timeout: -1 }));
              assert.ok(err instanceof DbError, String(err));
              assert.ok(err.cause instanceof RangeError, String(err.cause));
              return (await tx.queryOne<{ one: unknown }>("SELECT 1 AS one"))?.one;
            });
            assert.equal(Number(out), 1);
          },
        );
        await ctx.step("nested: inner rollback keeps outer work", async () => {
          await db.transaction(async (tx) => {
            await tx.exec(insert, "c");
            await rejection(tx.transaction(async (inner) => {
              await inner.exec(insert, "d");
              throw new Error("inner");
            }));
            await tx.transaction(async (inner) => {
              await inner.exec(insert, "e");
            });
          });
          assert.deepEqual(await names(), ["a", "c", "e"]);
        });
        await ctx.step("a finished transaction refuses further use", async () => {
          let saved: { query(sql: string): Promise<unknown> } | undefined;
          await db.transaction((tx) => {
            saved = tx;
          });
          assert.ok((await rejection(saved!.query("SELECT 1"))) instanceof ClosedError);
        });
      });
    }),
  );

  dbTest(
    t,
    "100 concurrent tasks share the pool",
    noLeaks(async () => {
      await withTable(t, async (db, table) => {
        await scope(() => {
          for (let i = 0; i < 100; i++) {
            spawn(async () => {
              await db.exec(q(`INSERT INTO ${table} (name, score) VALUES (?, ?)`), `n${i}`, i);
              const row = await db.queryOne<{ score: number }>(
                q(`SELECT score FROM ${table} WHERE name = ?`),
                `n${i}`,
              );
              assert.equal(row?.score, i);
            });
          }
        });
        const row = await db.queryOne<{ n: unknown }>(`SELECT COUNT(*) AS n FROM ${table}`);
        assert.equal(Number(row?.n), 100);
      }, 4);
    }),
  );

  dbTest(
    t,
    "cancellation and timeout; the connection stays usable",
    noLeaks(async (ctx) => {
      const db = await t.open(1);
      try {
        await ctx.step("timeout option", async () => {
          const err = await rejection(db.query({ sql: t.slow, timeout: 100 }));
          assert.ok(err instanceof TimeoutError, String(err));
          assert.deepEqual(await db.query("SELECT 1 AS one"), [{ one: 1 }]);
        });
        await ctx.step(
          "one timeout budget covers waiting for the connection and running",
          async () => {
            const holder = db.transaction(() => sleep(600));
            await sleep(20);
            const start = Date.now();
            const err = await rejection(db.query({ sql: t.long, timeout: 1000 }));
            const elapsed = Date.now() - start;
            await holder;
            assert.ok(err instanceof TimeoutError, String(err));
            assert.ok(elapsed < 1400, `timed out after ${elapsed} ms, not about 1000 ms`);
            assert.deepEqual(await db.query("SELECT 1 AS one"), [{ one: 1 }]);
          },
        );
        await ctx.step("task cancellation", async () => {
          const task = spawn(() => db.query(t.slow));
          await sleep(50);
          task.cancel();
          const err = await rejection(task);
          assert.ok(err instanceof Cancelled, String(err));
          assert.deepEqual(await db.query("SELECT 2 AS two"), [{ two: 2 }]);
        });
        await ctx.step("cancelled inside a transaction: rolled back", async () => {
          const task = spawn(() =>
            db.transaction(async (tx) => {
              await tx.query("SELECT 1 AS one");
              await tx.query(t.slow);
            })
          );
          await sleep(50);
          task.cancel();
          const err = await rejection(task);
          assert.ok(err instanceof Cancelled, String(err));
          // A new transaction starts cleanly on the same connection.
          assert.equal(await db.transaction(() => 1), 1);
        });
      } finally {
        await db.close();
      }
    }),
  );

  dbTest(
    t,
    "errors and close",
    noLeaks(async (ctx) => {
      const db = await t.open();
      await ctx.step("SQL errors are DbError with the driver's code", async () => {
        const err = await rejection(db.query("SELECT * FROM lunet_no_such_table"));
        assert.ok(err instanceof DbError);
        assert.ok(err.driverCode !== undefined);
        assert.match(err.message, new RegExp(`^query ${t.name} `));
        if (t.name !== "sqlite") assert.match(err.sqlState ?? "", /^42/);
      });
      await ctx.step("close: later calls fail with ClosedError, close is idempotent", async () => {
        await db.close();
        assert.ok(db.closed);
        assert.ok((await rejection(db.query("SELECT 1"))) instanceof ClosedError);
        assert.ok((await rejection(db.transaction(() => 1))) instanceof ClosedError);
        await db.close();
      });
    }),
  );
}

for (const t of targets) {
  dbTest(
    t,
    "constraint violations carry the driver's code",
    noLeaks(async () => {
      const db = await t.open();
      const table = tableName("lunet_dup");
      try {
        await db.exec(`CREATE TABLE ${table} (k INT PRIMARY KEY)`);
        await db.exec(ph(t, `INSERT INTO ${table} (k) VALUES (?)`), 1);
        const err = await rejection(db.exec(ph(t, `INSERT INTO ${table} (k) VALUES (?)`), 1));
        assert.ok(err instanceof DbError);
        assert.ok(err.driverCode !== undefined);
        if (t.name !== "sqlite") assert.match(err.sqlState ?? "", /^23/);
      } finally {
        await db.exec(`DROP TABLE ${table}`);
        await db.close();
      }
    }),
  );
}

for (const t of targets) {
  if (t.name === "sqlite") continue;
  const server = serverKill[t.name];
  dbTest(
    t,
    "faults: refused connection, connection killed mid-query",
    noLeaks(async (ctx) => {
      await ctx.step("connection refused is a DbError", async () => {
        const mod = t.name === "mysql"
          ? await import("../drivers/mysql.ts")
          : await import("../drivers/postgres.ts");
        const err = await rejection(mod.open({ host: "127.0.0.1", port: 1, user: "x" }));
        assert.ok(err instanceof DbError, String(err));
        assert.equal(err.driverCode, "ECONNREFUSED");
        assert.match(err.message, /connect .*127\.0\.0\.1:1.*: connection refused/);
      });
      await ctx.step(
        "killed by the server: a statement that may write fails, the next one works",
        async () => {
          const db = await t.open(1);
          const admin = await t.open(1);
          try {
            const before = await db.queryOne<{ id: unknown }>(server.id);
            const failed = rejection(db.exec(t.slow));
            await sleep(100);
            await admin.query(server.kill(before!.id));
            const err = await failed;
            assert.ok(err instanceof DbError, String(err));
            const after = await db.queryOne<{ id: unknown }>(server.id);
            assert.notEqual(after!.id, before!.id);
          } finally {
            await admin.close();
            await db.close();
          }
        },
      );
      if (t.name !== "postgres") return;
      await ctx.step("a read whose connection is lost runs again on a fresh one", async () => {
        const db = await t.open(1);
        const admin = await t.open(1);
        try {
          const before = await db.queryOne<{ id: unknown }>(server.id);
          const read = db.queryOne<{ id: unknown; n: number }>(
            `${server.id}, 7 AS n FROM pg_sleep(0.3)`,
          );
          await sleep(100);
          await admin.query(server.kill(before!.id));
          const row = await read;
          assert.equal(row!.n, 7);
          assert.notEqual(row!.id, before!.id);
        } finally {
          await admin.close();
          await db.close();
        }
      });
    }),
  );
}

// Database faults: servers killed and restarted under an open pool;
// connections the server ended while they sat in the pool or inside a
// transaction.
import assert from "node:assert/strict";
import { DbError, scope, sleep, spawn, TimeoutError } from "../mod.ts";
import type { Db } from "../drivers/_types.ts";
import { toDbError } from "../drivers/_errors.ts";
import { noLeaks } from "./leak.ts";
import { rawPeer } from "./net_helpers.ts";
import { rejection } from "./rejection.ts";
import { dbTest, requiredTest, serverKill, type Target, targets } from "./db_targets.ts";
import { type ServerKind, serverMissing, startServer } from "./db_server.ts";

/** The ids of `n` distinct pooled connections, each made busy at once so the pool opens them all. */
async function connectionIds(t: Target, db: Db, n: number): Promise<number[]> {
  const pause = t.name === "mysql" ? "SLEEP(0.2)" : "pg_sleep(0.2)";
  const id = serverKill[t.name as "mysql" | "postgres"].id;
  const ids: number[] = [];
  await scope(() => {
    for (let i = 0; i < n; i++) {
      spawn(async () => {
        const row = await db.queryOne<{ id: unknown }>(`${id}, ${pause} AS p`);
        ids.push(Number(row!.id));
      });
    }
  });
  return ids;
}

async function ownId(t: Target, db: Pick<Db, "queryOne">): Promise<number> {
  const row = await db.queryOne<{ id: unknown }>(serverKill[t.name as "mysql" | "postgres"].id);
  return Number(row!.id);
}

for (const t of targets) {
  if (t.name === "sqlite") continue;
  const server = serverKill[t.name];

  dbTest(
    t,
    "idle pooled connections killed by the server are replaced, no statement fails",
    noLeaks(async (ctx) => {
      const db = await t.open(4);
      const admin = await t.open(1);
      try {
        for (const settle of [100, 0]) {
          await ctx.step({
            name: `next statements ${settle} ms after the kill`,
            fn: async () => {
              const killed = await connectionIds(t, db, 4);
              assert.equal(new Set(killed).size, 4);
              for (const id of killed) await admin.query(server.kill(id));
              await sleep(settle);
              const seen: number[] = [];
              await scope(() => {
                for (let i = 0; i < 8; i++) spawn(async () => seen.push(await ownId(t, db)));
              });
              for (let i = 0; i < 4; i++) seen.push(await ownId(t, db));
              for (const id of seen) {
                assert.ok(!killed.includes(id), `killed connection ${id} reused`);
              }
            },
          });
        }
      } finally {
        await admin.close();
        await db.close();
      }
    }),
  );

  dbTest(
    t,
    "a connection killed inside a transaction fails it and is not reused",
    noLeaks(async () => {
      const db = await t.open(1);
      const admin = await t.open(1);
      try {
        let victim = 0;
        const err = await rejection(db.transaction(async (tx) => {
          victim = await ownId(t, tx);
          await admin.query(server.kill(victim));
          await sleep(50);
          await tx.query("SELECT 1 AS one");
        }));
        assert.ok(err instanceof DbError, String(err));
        assert.ok(err.driverCode !== undefined, `no driver code: ${err.message}`);
        assert.notEqual(await ownId(t, db), victim);
        assert.deepEqual(await db.query("SELECT 1 AS one"), [{ one: 1 }]);
      } finally {
        await admin.close();
        await db.close();
      }
    }),
  );
}

Deno.test("a network errno is shown as the error code, not as an SQLSTATE", () => {
  // The error Node's socket raises when a driver writes after the server
  // closed it (the killed-server tests below meet it for real).
  const raised = Object.assign(new Error("This socket has been ended by the other party"), {
    code: "EPIPE",
  });
  const err = toDbError(raised, "query mysql 127.0.0.1:3306/test");
  assert.ok(err instanceof DbError);
  assert.equal(err.driverCode, "EPIPE");
  assert.equal(err.sqlState, undefined);
  assert.match(err.message, /^query mysql 127\.0\.0\.1:3306\/test: .* \(EPIPE\)$/);
});

const SLEEP = { mysql: "SELECT SLEEP(10) AS n", postgres: "SELECT pg_sleep(10) AS n" };

/** Asserts `err` is a DbError that names its driver code, and no errno as an SQLSTATE. */
function assertConnectionError(err: unknown, started: number): void {
  assert.ok(err instanceof DbError, String(err));
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 3000, `failed after ${elapsed} ms: ${err.message}`);
  assert.ok(err.driverCode !== undefined, `no driver code: ${err.message}`);
  assert.doesNotMatch(err.message, /SQLSTATE [A-Z]+\)/, "an errno name shown as an SQLSTATE");
  assert.equal(err.sqlState === undefined || /\d/.test(err.sqlState), true, String(err.sqlState));
}

for (const kind of ["postgres", "mysql"] as ServerKind[]) {
  requiredTest(
    `a private ${kind} server`,
    await serverMissing(kind),
    `${kind}: a killed server fails statements fast; after a restart the same Db works`,
    noLeaks(async (ctx) => {
      const server = await startServer(kind);
      let db: Db | undefined;
      try {
        db = await server.open(3);
        const pool = db;
        const one = async () => (await pool.queryOne<{ one: unknown }>("SELECT 1 AS one"))?.one;
        await scope(() => {
          for (let i = 0; i < 3; i++) spawn(async () => assert.equal(Number(await one()), 1));
        });
        await ctx.step(
          "in-flight and next statements fail fast with a connection error",
          async () => {
            const inflight = rejection(pool.query(SLEEP[kind]));
            await sleep(200);
            const started = Date.now();
            await server.kill();
            assertConnectionError(await inflight, started);
            for (let i = 0; i < 3; i++) {
              const next = Date.now();
              assertConnectionError(await rejection(pool.query("SELECT 1 AS one")), next);
            }
          },
        );
        await ctx.step("restarted on the same port: the same Db works again", async () => {
          await server.restart();
          await scope(() => {
            for (let i = 0; i < 6; i++) spawn(async () => assert.equal(Number(await one()), 1));
          });
          assert.equal(await pool.transaction(() => 7), 7);
        });
      } finally {
        await db?.close();
        await server.destroy();
      }
    }),
  );
}

Deno.test(
  "postgres and mysql: a server that accepts and never answers fails open() with a TimeoutError after connectTimeout",
  noLeaks(async () => {
    const silent = rawPeer();
    try {
      const port = silent.port;
      for (const driver of ["postgres", "mysql"] as const) {
        const { open } = driver === "postgres"
          ? await import("../drivers/postgres.ts")
          : await import("../drivers/mysql.ts");
        const started = Date.now();
        const err = await rejection(
          open({ host: "127.0.0.1", port, user: "u", database: "d", connectTimeout: 500 }),
        );
        assert.ok(err instanceof TimeoutError, `${driver}: ${err}`);
        assert.equal(err.message, `connect ${driver} 127.0.0.1:${port}/d: timed out`);
        assert.ok(Date.now() - started < 5_000, `${driver}: ${Date.now() - started} ms`);
      }
    } finally {
      await silent.close();
    }
  }),
);

import assert from "node:assert/strict";
import { Cancelled, DbError, sleep, spawn, TimeoutError } from "../mod.ts";
import { DEFAULT_PIPELINE, open } from "../drivers/postgres.ts";
import { noLeaks } from "./leak.ts";
import { rejection } from "./rejection.ts";
import { dbTest, POSTGRES_URL, tableName, target } from "./db_targets.ts";

const t = target("postgres");

dbTest(
  t,
  "pipelined reads on one connection are answered in order, past the pipeline depth",
  noLeaks(async () => {
    const db = await open({ url: POSTGRES_URL, pool: 1, pipeline: 8 });
    try {
      const n = 200;
      const rows = await Promise.all(
        Array.from({ length: n }, (_, i) => db.queryOne<{ n: number }>("SELECT $1::int AS n", i)),
      );
      assert.deepEqual(rows.map((r) => r!.n), Array.from({ length: n }, (_, i) => i));
    } finally {
      await db.close();
    }
  }),
);

dbTest(
  t,
  "a task's statements in flight, waiting in the pool too, all stop when it is cancelled",
  noLeaks(async () => {
    // One statement per connection: each running one is stopped on the server.
    const db = await open({ url: POSTGRES_URL, pool: 2, pipeline: 1 });
    try {
      const n = 100; // 2 running, the rest waiting for a connection
      const task = spawn(async () => {
        // Past any batch: statements that end before the cancel leave it.
        assert.equal((await db.queryOne<{ n: number }>("SELECT $1::int AS n", 7))!.n, 7);
        return await Promise.allSettled(
          Array.from({ length: n }, () => db.query("SELECT pg_sleep(5) AS s")),
        );
      });
      await sleep(200);
      const started = Date.now();
      task.cancel();
      const settled = await task;
      assert.equal(settled.length, n);
      for (const s of settled) {
        assert.equal(s.status, "rejected");
        assert.ok((s as PromiseRejectedResult).reason instanceof Cancelled);
      }
      assert.deepEqual(await db.queryOne("SELECT 1 AS one"), { one: 1 });
      assert.ok(Date.now() - started < 3000, "the running statements were stopped on the server");
    } finally {
      await db.close();
    }
  }),
);

dbTest(
  t,
  "an error in the middle of a pipeline fails only its statement",
  noLeaks(async () => {
    const db = await open({ url: POSTGRES_URL, pool: 1 });
    try {
      const divisors = [1, 2, 0, 4, 5, 0, 7];
      const settled = await Promise.allSettled(
        divisors.map((d) => db.queryOne<{ q: number }>("SELECT 840 / $1::int AS q", d)),
      );
      settled.forEach((s, i) => {
        if (divisors[i] === 0) {
          assert.equal(s.status, "rejected");
          assert.ok((s as PromiseRejectedResult).reason instanceof DbError);
          assert.equal((s as PromiseRejectedResult).reason.sqlState, "22012");
        } else {
          assert.deepEqual((s as PromiseFulfilledResult<unknown>).value, { q: 840 / divisors[i] });
        }
      });
      assert.deepEqual(await db.queryOne("SELECT 1 AS one"), { one: 1 });
    } finally {
      await db.close();
    }
  }),
);

dbTest(
  t,
  "a read cancelled while it runs in a pipeline leaves the connection clean",
  noLeaks(async () => {
    const db = await open({ url: POSTGRES_URL, pool: 1 });
    try {
      const before = db.queryOne<{ n: number }>("SELECT $1::int AS n", 1);
      const slow = spawn(() => db.query("SELECT pg_sleep(5) AS s"));
      const after = Array.from(
        { length: 5 },
        (_, i) => db.queryOne<{ n: number }>("SELECT $1::int AS n", i + 2),
      );
      await sleep(100);
      const started = Date.now();
      slow.cancel();
      assert.ok((await rejection(slow)) instanceof Cancelled);
      assert.deepEqual(await before, { n: 1 });
      assert.deepEqual((await Promise.all(after)).map((r) => r!.n), [2, 3, 4, 5, 6]);
      assert.ok(Date.now() - started < 2000, "the slow statement was stopped on the server");
      const pid = await db.queryOne<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      const idle = await db.queryOne<{ state: string }>(
        "SELECT state FROM pg_stat_activity WHERE pid = $1 AND pid <> pg_backend_pid()",
        pid!.pid,
      );
      assert.equal(idle, null, "the same connection answers: nothing else runs on it");
    } finally {
      await db.close();
    }
  }),
);

dbTest(
  t,
  "reads beyond the pipeline depth wait for the pool, not the wire",
  noLeaks(async () => {
    const db = await open({ url: POSTGRES_URL, pool: 1, pipeline: 2 });
    try {
      const slow = [db.query("SELECT pg_sleep(0.3)"), db.query("SELECT pg_sleep(0.3)")];
      await sleep(50);
      const err = await rejection(db.query({ sql: "SELECT 1", timeout: 50 }));
      assert.ok(err instanceof TimeoutError, String(err));
      assert.match((err as Error).message, /wait for a connection/);
      await Promise.all(slow);
    } finally {
      await db.close();
    }
  }),
);

Deno.test("postgres: a pipeline depth that is not a positive integer is refused", async () => {
  assert.equal(DEFAULT_PIPELINE, 8);
  for (const pipeline of [0, -1, 1.5, NaN]) {
    const err = await rejection(open({ url: POSTGRES_URL, pipeline }));
    assert.ok(err instanceof RangeError, String(err));
  }
  const err = await rejection(open(`${POSTGRES_URL}?pipeline=zero`));
  assert.ok(err instanceof RangeError, String(err));
});

dbTest(
  t,
  "a read is not held behind a write waiting for a connection while another has room",
  noLeaks(async () => {
    const db = await open({ url: POSTGRES_URL, pool: 2 });
    const table = tableName("lunet_wait");
    await db.exec(`CREATE TABLE ${table} (v INT)`);
    try {
      // Two connections busy: the first for 0.6 s, the second for 0.2 s.
      const long = db.query("SELECT pg_sleep(0.6)");
      const short = db.query("SELECT pg_sleep(0.2)");
      await sleep(50);
      const order: string[] = [];
      const write = db.exec(`INSERT INTO ${table} VALUES ($1)`, 1).then(() => order.push("write"));
      await sleep(10);
      const read = db.queryOne("SELECT 1 AS one").then(() => order.push("read"));
      await Promise.all([long, short, write, read]);
      // The read is pipelined behind the 0.2 s statement; the write takes
      // the first connection whose statements have all ended, after it.
      assert.deepEqual(order, ["read", "write"]);
      assert.deepEqual(await db.query(`SELECT v FROM ${table}`), [{ v: 1 }]);
    } finally {
      await db.exec(`DROP TABLE ${table}`);
      await db.close();
    }
  }),
);

dbTest(
  t,
  "a write waiting for a connection is not starved by a stream of reads",
  noLeaks(async () => {
    const db = await open({ url: POSTGRES_URL, pool: 1 });
    const table = tableName("lunet_starve");
    await db.exec(`CREATE TABLE ${table} (v INT)`);
    try {
      let stop = false;
      const reads = (async () => {
        const inFlight: Promise<unknown>[] = [];
        while (!stop) {
          inFlight.push(db.query("SELECT pg_sleep(0.02)"));
          await sleep(5);
        }
        await Promise.all(inFlight);
      })();
      await sleep(50);
      const started = Date.now();
      await db.exec(`INSERT INTO ${table} VALUES ($1)`, 1);
      const waited = Date.now() - started;
      stop = true;
      await reads;
      assert.ok(waited < 1500, `the write waited ${waited} ms`);
    } finally {
      await db.exec(`DROP TABLE ${table}`);
      await db.close();
    }
  }),
);

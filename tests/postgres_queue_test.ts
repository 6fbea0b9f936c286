import assert from "node:assert/strict";
import { ClosedError, DbError, sleep, spawn } from "../mod.ts";
import { open } from "../drivers/postgres.ts";
import { noLeaks } from "./leak.ts";
import { rejection } from "./rejection.ts";
import { dbTest, POSTGRES_URL, target } from "./db_targets.ts";

const t = target("postgres");

dbTest(
  t,
  "statements a task queues in a full pool run in the order they came",
  noLeaks(async () => {
    const db = await open({ url: POSTGRES_URL, pool: 1, pipeline: 1 });
    try {
      const order = await spawn(async () => {
        const seen: number[] = [];
        await Promise.all(
          Array.from(
            { length: 20 },
            (_, i) =>
              db.queryOne<{ n: number }>("SELECT $1::int AS n", i).then((r) => seen.push(r!.n)),
          ),
        );
        return seen;
      });
      assert.deepEqual(order, Array.from({ length: 20 }, (_, i) => i));
    } finally {
      await db.close();
    }
  }),
);

dbTest(
  t,
  "a read a task queued in the pool runs on a new connection when the one it waited for breaks",
  noLeaks(async () => {
    const db = await open({ url: POSTGRES_URL, pool: 1, pipeline: 1 });
    const admin = await open({ url: POSTGRES_URL, pool: 1 });
    try {
      const { pid } = (await db.queryOne<{ pid: number }>("SELECT pg_backend_pid() AS pid"))!;
      const task = spawn(() => {
        const busy = db.exec("SELECT pg_sleep(5)"); // a write: not run again
        const queued = db.queryOne<{ n: number }>("SELECT $1::int AS n", 7);
        return Promise.allSettled([busy, queued]);
      });
      await sleep(100);
      await admin.query("SELECT pg_terminate_backend($1)", pid);
      const [busy, queued] = await task;
      assert.equal(busy.status, "rejected");
      assert.ok((busy as PromiseRejectedResult).reason instanceof DbError);
      assert.deepEqual((queued as PromiseFulfilledResult<unknown>).value, { n: 7 });
    } finally {
      await admin.close();
      await db.close();
    }
  }),
);

dbTest(
  t,
  "statements a task queued in the pool fail with ClosedError when the database closes",
  noLeaks(async () => {
    const db = await open({ url: POSTGRES_URL, pool: 1, pipeline: 1 });
    const task = spawn(() =>
      Promise.allSettled([
        db.query("SELECT pg_sleep(0.2) AS s"),
        db.query("SELECT 1 AS one"),
        db.exec("SELECT 2"),
      ])
    );
    await sleep(50);
    await db.close();
    const [running, read, write] = await task;
    assert.equal(running.status, "fulfilled", "the running statement ends");
    for (const queued of [read, write]) {
      assert.equal(queued.status, "rejected");
      assert.ok((queued as PromiseRejectedResult).reason instanceof ClosedError);
    }
    assert.ok((await rejection(db.query("SELECT 1"))) instanceof ClosedError);
  }),
);

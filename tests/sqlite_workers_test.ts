import assert from "node:assert/strict";
import { Cancelled, sleep, spawn, trace } from "../mod.ts";
import * as sqlite from "../drivers/sqlite.ts";
import { noLeaks } from "./leak.ts";
import { rejection } from "./rejection.ts";
import { target } from "./db_targets.ts";

const t = target("sqlite");

/** Open SQLite connections, of either engine (a worker each, or a library handle each). */
function connections(): number {
  const { counts } = trace.snapshot();
  return (counts.worker ?? 0) + (counts.sqlite ?? 0);
}

/** Waits (up to 5 s) until `connections()` is `n`. */
async function connectionsBecome(n: number): Promise<void> {
  const until = Date.now() + 5000;
  while (connections() !== n && Date.now() < until) await sleep(10);
  assert.equal(connections(), n);
}

/** How many 5 ms timer turns the event loop ran while `fn` was awaited. */
async function ticksDuring(fn: () => Promise<unknown>): Promise<number> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return ticks;
}

async function withFile(
  config: Omit<sqlite.SqliteConfig, "path">,
  fn: (db: sqlite.Db) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const db = await sqlite.open({ path: `${dir}/app.db`, ...config });
  try {
    await db.exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)");
    await db.exec("INSERT INTO kv VALUES (?, ?)", "a", 1);
    await fn(db);
  } finally {
    await db.close();
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(connections(), 0);
}

Deno.test(
  "sqlite: reader workers start on demand and stop when idle",
  noLeaks(async (ctx) => {
    await withFile({ readers: 2, idleTimeout: 200 }, async (db) => {
      await ctx.step("open starts the writer only", () => assert.equal(connections(), 1));
      await ctx.step("a read starts one reader", async () => {
        assert.deepEqual(await db.queryOne("SELECT v FROM kv"), { v: 1 });
        assert.equal(connections(), 2);
      });
      await ctx.step("sequential reads reuse it", async () => {
        for (let i = 0; i < 20; i++) await db.query("SELECT * FROM kv");
        assert.equal(connections(), 2);
      });
      await ctx.step("a read while the reader is busy starts the second", async () => {
        const slow = db.query(t.slow);
        await sleep(20);
        assert.deepEqual(await db.queryOne("SELECT v FROM kv"), { v: 1 });
        assert.equal(connections(), 3);
        await slow;
      });
      await ctx.step("idle readers stop, the writer stays", () => connectionsBecome(1));
      await ctx.step("writes never start a reader", async () => {
        await db.exec("UPDATE kv SET v = ?", 2);
        assert.equal(connections(), 1);
      });
      await ctx.step("the next read starts a reader again", async () => {
        assert.deepEqual(await db.queryOne("SELECT v FROM kv"), { v: 2 });
        assert.equal(connections(), 2);
      });
    });
  }),
);

Deno.test(
  "sqlite: a reader busy past the idle timeout is not stopped",
  noLeaks(async () => {
    await withFile({ readers: 1, idleTimeout: 50 }, async (db) => {
      // The slow statement runs far longer than the idle timeout on one reader.
      assert.deepEqual(await db.queryOne(t.slow), { n: 2_000_000 });
      assert.equal(connections(), 2);
      await connectionsBecome(1);
    });
  }),
);

Deno.test(
  "sqlite: a read cancelled while its reader starts wakes at once; the reader stops when idle",
  noLeaks(async () => {
    await withFile({ readers: 1, idleTimeout: 100 }, async (db) => {
      const read = spawn(() => db.query("SELECT * FROM kv"));
      // Until the reader's connection exists and is still being opened.
      for (let i = 0; i < 1000 && connections() < 2; i++) await Promise.resolve();
      assert.equal(connections(), 2);
      const started = performance.now();
      read.cancel();
      assert.ok((await rejection(read)) instanceof Cancelled);
      assert.ok(performance.now() - started < 50, "woken at once");
      await connectionsBecome(2); // the reader opened anyway, and went to the pool
      await connectionsBecome(1);
      assert.deepEqual(await db.queryOne("SELECT v FROM kv"), { v: 1 });
    });
  }),
);

Deno.test(
  "sqlite: idleTimeout 0 keeps the readers until close",
  noLeaks(async () => {
    await withFile({ readers: 1, idleTimeout: 0 }, async (db) => {
      await db.query("SELECT * FROM kv");
      await sleep(300);
      assert.equal(connections(), 2);
    });
  }),
);

Deno.test(
  "sqlite: closing while an idle reader stops leaves nothing behind",
  noLeaks(async () => {
    await withFile({ readers: 2, idleTimeout: 1 }, async (db) => {
      await Promise.all([db.query("SELECT * FROM kv"), db.query("SELECT * FROM kv")]);
      await sleep(5);
    });
  }),
);

Deno.test(
  "sqlite: readers 0 runs everything on one worker, off the event loop",
  noLeaks(async (ctx) => {
    await withFile({ readers: 0 }, async (db) => {
      await ctx.step("reads and writes share the writer", async () => {
        await db.exec("UPDATE kv SET v = ?", 3);
        assert.deepEqual(await db.queryOne("SELECT v FROM kv"), { v: 3 });
        assert.equal(connections(), 1);
      });
      await ctx.step("the event loop runs while a slow query does", async () => {
        const ticks = await ticksDuring(() => db.query(t.slow));
        assert.ok(ticks >= 3, `timer turns during the slow query: ${ticks}`);
        assert.equal(connections(), 1);
      });
      await ctx.step("a wait behind a slow query is cancellable", async () => {
        const slow = db.query(t.slow);
        const waiting = spawn(() => db.query("SELECT v FROM kv"));
        await sleep(5);
        waiting.cancel();
        const started = performance.now();
        assert.ok((await rejection(waiting)) instanceof Cancelled);
        assert.ok(performance.now() - started < 50, "woken at once");
        await slow;
        assert.deepEqual(await db.queryOne("SELECT v FROM kv"), { v: 3 });
      });
    });
  }),
);

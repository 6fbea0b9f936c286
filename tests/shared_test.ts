/**
 * lunet/shared: the dictionary's operations, TTL expiry and eviction
 * order; exact counters under 4 concurrent thread workers and 4 process
 * workers; a table left locked and half-written by a dead writer is
 * recovered consistent; a worker killed amid writes leaves a sound table.
 */
import assert from "node:assert/strict";
import { createShared, openShared, shared } from "../src/shared.ts";
import { H_LOCK, layout, SLOT_INTS } from "../src/shared/_layout.ts";
import { Table } from "../src/shared/_table.ts";
import { localTable } from "../src/shared/_store.ts";
import { serve } from "../src/http/mod.ts";
import { noLeaks } from "./leak.ts";

const WORKER = new URL("./fixtures/shared_worker.ts", import.meta.url);
const APP = new URL("./fixtures/supervised_app.ts", import.meta.url);

Deno.test("shared: get, set, add, incr, decr, delete, keys, size", async () => {
  const d = createShared({ capacity: 8, maxKeyBytes: 16, maxValueBytes: 8 });
  assert.equal(await d.get("a"), undefined);
  await d.set("a", "héllo");
  await d.set("b", new Uint8Array([1, 2, 3]));
  await d.set("c", 2.5);
  assert.equal(await d.get("a"), "héllo");
  assert.deepEqual(await d.get("b"), new Uint8Array([1, 2, 3]));
  assert.equal(await d.get("c"), 2.5);
  assert.equal(await d.add("a", "other"), false);
  assert.equal(await d.add("z", "new"), true);
  assert.equal(await d.incr("n"), 1);
  assert.equal(await d.incr("n", 10), 11);
  assert.equal(await d.decr("n", 2), 9);
  await d.set("s", "41");
  assert.equal(await d.incr("s"), 42, "a decimal string counts as a number");
  await assert.rejects(d.incr("a"), TypeError);
  await assert.rejects(d.set("long", "123456789"), RangeError);
  await assert.rejects(d.set("k".repeat(17), "v"), RangeError);
  assert.equal(await d.delete("z"), true);
  assert.equal(await d.delete("z"), false);
  assert.deepEqual((await d.keys()).sort(), ["a", "b", "c", "n", "s"]);
  assert.equal(await d.size(), 5);
  await d.clear();
  assert.equal(await d.size(), 0);
});

Deno.test("shared: entries expire after their TTL", async () => {
  const d = createShared({ capacity: 4 });
  await d.set("short", "x", { ttl: 30 });
  await d.set("long", "y", { ttl: 60_000 });
  assert.equal(await d.incr("count", 1, { ttl: 30 }), 1);
  assert.equal(await d.get("short"), "x");
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await d.get("short"), undefined);
  assert.equal(await d.get("long"), "y");
  assert.equal(await d.incr("count"), 1, "an expired counter starts again");
  assert.equal(await d.add("short", "again"), true, "add sets an expired key");
  assert.deepEqual((await d.keys()).sort(), ["count", "long", "short"]);
});

Deno.test("shared: a full dictionary evicts an expired entry, else the least recently used", async () => {
  const d = createShared({ capacity: 3 });
  await d.set("a", 1);
  await d.set("b", 2);
  await d.set("c", 3);
  await d.get("a"); // b is now the least recently used
  await d.set("d", 4);
  assert.deepEqual(await d.keys(), ["c", "a", "d"], "b evicted; keys by recency");
  await d.set("c", 30); // a is the least recently used
  await d.set("e", 5);
  assert.deepEqual(await d.keys(), ["d", "c", "e"]);
  await d.set("t", 6, { ttl: 10 }); // evicts d
  await new Promise((r) => setTimeout(r, 20));
  await d.set("f", 7); // the expired t goes first, not c
  assert.deepEqual(await d.keys(), ["c", "e", "f"]);
  assert.equal(await d.size(), 3);
});

Deno.test("shared: 4 thread workers × 100,000 increments give an exact count", async () => {
  const d = createShared({ capacity: 16 });
  const workers = Array.from({ length: 4 }, () => new Worker(WORKER, { type: "module" }));
  try {
    await Promise.all(workers.map((w) =>
      new Promise<void>((resolve, reject) => {
        w.onmessage = () => resolve();
        w.onerror = (e) => reject(new Error(e.message));
        w.postMessage({ handle: d.handle(), key: "hits", n: 100_000 });
      })
    ));
  } finally {
    for (const w of workers) w.terminate();
  }
  assert.equal(await d.get("hits"), 400_000);
});

Deno.test({
  name: "shared: 4 process workers × 100,000 increments through the supervisor give an exact count",
  sanitizeOps: false,
  fn: noLeaks(async () => {
    const server = await serve({
      workers: 4,
      port: 0,
      module: APP,
      isolation: "process",
      shutdownOnSignal: false,
    });
    const dict = shared();
    try {
      await dict.delete("procs");
      const port = server.addr.port!;
      const runs = Array.from(
        { length: 4 },
        () => fetch(`http://127.0.0.1:${port}/incr?n=100000&key=procs`).then((r) => r.json()),
      );
      const done = await Promise.all(runs);
      assert.deepEqual(done.map((r) => r.done), [100_000, 100_000, 100_000, 100_000]);
      assert.equal(await dict.get("procs"), 400_000);
    } finally {
      await server.shutdown({ timeout: 2000 });
    }
  }),
});

Deno.test("shared: a lock left by a writer that died mid-write is recovered consistent", () => {
  const sizes = { capacity: 8, maxKeyBytes: 16, maxValueBytes: 16 };
  const table = Table.create(sizes, 1);
  table.set("keep", "intact");
  table.set("torn", "before");
  // A writer (token 7) died inside a write to the slot of "torn": it held
  // the lock and left the slot's version odd.
  const l = layout(sizes);
  const meta = new Int32Array(table.buffer, l.meta, sizes.capacity * SLOT_INTS);
  const header = new Int32Array(table.buffer, 0, 16);
  const slot = [...Array(sizes.capacity).keys()].find((s) => {
    const keys = new Uint8Array(table.buffer, l.keys + s * 16, 4);
    return new TextDecoder().decode(keys) === "torn";
  })!;
  Atomics.store(header, H_LOCK, 7);
  Atomics.add(meta, slot * SLOT_INTS, 1);
  assert.ok(table.check().length > 0, "the damage is visible");
  assert.equal(table.recover(8), false, "another token's death recovers nothing");
  assert.equal(table.recover(7), true);
  assert.deepEqual(table.check(), []);
  assert.equal(table.get("keep"), "intact");
  assert.equal(table.get("torn"), undefined, "the half-written entry is dropped");
  table.set("torn", "after");
  assert.equal(table.get("torn"), "after");
  assert.deepEqual(table.check(), []);
});

Deno.test("shared: a lock held past its lease by a writer nobody vouches for is taken over", async () => {
  const d = createShared({ capacity: 4 });
  const sizes = { capacity: 4, maxKeyBytes: 128, maxValueBytes: 1024 };
  const handle = d.handle();
  const header = new Int32Array(handle.buffer, 0, 16);
  const longs = new BigInt64Array(handle.buffer, layout(sizes).longs, 2);
  Atomics.store(header, H_LOCK, 12345);
  Atomics.store(longs, 1, BigInt(Date.now() - 3000)); // taken 3 s ago
  await d.set("x", "y"); // waits, then recovers the lease-expired lock
  assert.equal(await d.get("x"), "y");
  assert.deepEqual(new Table(handle.buffer, 99).check(), []);
});

Deno.test("shared: workers terminated amid writes leave a sound, unlocked table", async () => {
  const d = createShared({ capacity: 200, maxValueBytes: 64 });
  const table = new Table(d.handle().buffer, 2);
  const header = new Int32Array(d.handle().buffer, 0, 16);
  let killedMidWrite = 0;
  for (let round = 0; round < 8; round++) {
    const w = new Worker(WORKER, { type: "module" });
    await new Promise<void>((resolve) => {
      w.onmessage = () => resolve();
      w.postMessage({ handle: d.handle(), key: "storm", n: 0, storm: true });
    });
    await new Promise((r) => setTimeout(r, 30 + round * 10));
    w.terminate(); // lands anywhere, inside a write too
    await new Promise((r) => setTimeout(r, 100)); // the thread is gone
    // What the supervisor does for a worker it saw die: recover from its token.
    const holder = Atomics.load(header, H_LOCK);
    if (holder !== 0) {
      killedMidWrite++;
      assert.equal(table.recover(holder), true);
    }
    assert.deepEqual(table.check(), [], `round ${round}`);
    await d.set("after", round); // nothing is stuck
  }
  console.log(`${killedMidWrite} of 8 terminations landed inside a write`);
  const again = openShared(d.handle());
  assert.equal(await again.get("after"), 7);
  assert.ok((await again.get("storm") as number) > 0);
});

Deno.test({
  name: "shared: a process worker killed amid writes leaves the supervisor's table sound",
  sanitizeOps: false,
  fn: noLeaks(async () => {
    const server = await serve({
      workers: 2,
      port: 0,
      module: APP,
      isolation: "process",
      shutdownOnSignal: false,
    });
    try {
      const [victim] = server.workers();
      const port = server.addr.port!;
      // Requests until one lands on the victim.
      const runs: Promise<unknown>[] = [];
      for (let i = 0; i < 8; i++) {
        runs.push(
          fetch(`http://127.0.0.1:${port}/incr?n=1000000&key=k${i}`).then(
            (r) => r.body?.cancel(),
            () => {},
          ),
        );
      }
      await new Promise((r) => setTimeout(r, 400));
      Deno.kill(victim.pid, "SIGKILL");
      await new Promise((r) => setTimeout(r, 200));
      const table = localTable("default", { capacity: 1, maxKeyBytes: 1, maxValueBytes: 1 });
      assert.deepEqual(table.check().filter((p) => !p.startsWith("locked")), []);
      await server.shutdown({ timeout: 500 });
      await Promise.all(runs);
      assert.deepEqual(table.check(), []);
      assert.equal(await shared().incr("k0", 0) >= 0, true);
    } finally {
      await server.shutdown({ timeout: 500 });
    }
  }),
});

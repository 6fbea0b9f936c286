import assert from "node:assert/strict";
import { Cancelled, ClosedError, sleep, spawn, TimeoutError } from "../mod.ts";
import { type Bus, localBus, redisBus } from "../src/bus.ts";
import * as redis from "../drivers/redis.ts";
import { noLeaks } from "./leak.ts";
import { rejection } from "./rejection.ts";

const uid = () => crypto.randomUUID().slice(0, 8);

interface Impl {
  name: string;
  /** Two buses that reach each other (two workers, two instances), and their cleanup. */
  pair(maxLen: number): Promise<{ a: Bus; b: Bus; done(): Promise<void> }>;
}

const impls: Impl[] = [
  {
    name: "local",
    pair(maxLen) {
      const name = uid();
      const a = localBus({ name, maxLen }), b = localBus({ name, maxLen });
      return Promise.resolve({
        a,
        b,
        done: async () => void await Promise.all([a.close(), b.close()]),
      });
    },
  },
  {
    name: "redis",
    async pair(maxLen) {
      const prefix = `lunet:test:bus:${uid()}:`;
      const ra = await redis.open("redis://127.0.0.1:6379");
      const rb = await redis.open("redis://127.0.0.1:6379");
      const a = redisBus(ra, { prefix, maxLen }), b = redisBus(rb, { prefix, maxLen });
      return {
        a,
        b,
        async done() {
          await Promise.all([a.close(), b.close()]);
          const keys = await ra.command("KEYS", `${prefix}*`) as string[];
          if (keys.length) await ra.del(keys);
          await Promise.all([ra.close(), rb.close()]);
        },
      };
    },
  },
];

for (const impl of impls) {
  Deno.test(
    `${impl.name} bus: a topic, stream, data or id that is not a string is refused, nothing sent`,
    noLeaks(async () => {
      const { a, b, done } = await impl.pair(10);
      try {
        const sub = await b.subscribe("t");
        const calls: [string, () => Promise<unknown>, RegExp][] = [
          [
            "publish",
            () => a.publish(null as never, "x"),
            /^bus publish: topic must be a non-empty string, got null$/,
          ],
          [
            "publish",
            () => a.publish("", "x"),
            /^bus publish: topic must be a non-empty string, got ""$/,
          ],
          [
            "publish",
            () => a.publish("t", { n: 1 } as never),
            /^bus publish t: data must be a string, got object$/,
          ],
          [
            "subscribe",
            () => a.subscribe(42 as never),
            /^bus subscribe: topic must be a non-empty string, got 42$/,
          ],
          [
            "append",
            () => a.append(undefined as never, "x"),
            /^bus append: stream must be a non-empty string, got undefined$/,
          ],
          [
            "append",
            () => a.append("s", 7 as never),
            /^bus append s: data must be a string, got number$/,
          ],
          [
            "readAfter",
            () => a.readAfter("s", null as never),
            /^bus readAfter s: id must be a string, got null$/,
          ],
        ];
        for (const [what, call, message] of calls) {
          const err = await call().then(() => undefined, (e) => e);
          assert.ok(err instanceof TypeError, `${what}: ${err}`);
          assert.match(err.message, message);
        }
        await a.publish("t", "after");
        assert.equal(
          (await sub.next({ timeout: 2000 }))?.data,
          "after",
          "only the good message arrives",
        );
      } finally {
        await done();
      }
    }),
  );

  Deno.test(
    `${impl.name} bus: fan-out and replay`,
    noLeaks(async (t) => {
      const { a, b, done } = await impl.pair(1000);
      try {
        await t.step("every subscriber on either side receives, in order", async () => {
          const subs = [await a.subscribe("t"), await b.subscribe("t"), await b.subscribe("t")];
          const other = await b.subscribe("other");
          for (let i = 0; i < 50; i++) await (i % 2 ? a : b).publish("t", `m${i}`);
          for (const sub of subs) {
            const got: string[] = [];
            for await (const msg of sub) {
              assert.equal(msg.topic, "t");
              got.push(msg.data);
              if (got.length === 50) break;
            }
            assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => `m${i}`));
          }
          const err = await rejection(other.next({ timeout: 50 }));
          assert.ok(err instanceof TimeoutError, String(err));
          await other.close();
          assert.equal(await other.next(), null);
        });
        await t.step("a waiting subscriber wakes on cancel", async () => {
          const sub = await a.subscribe("quiet");
          const task = spawn(() => sub.next());
          await sleep(10);
          task.cancel();
          assert.ok((await rejection(task)) instanceof Cancelled);
          await sub.close();
        });
        await t.step("readAfter returns what followed an id, from either side", async () => {
          const ids: string[] = [];
          for (let i = 0; i < 10; i++) ids.push(await a.append("log", `e${i}`));
          assert.deepEqual([...ids].sort(compareIds), ids, "ids increase");
          const read = async (bus: Bus, id: string) =>
            (await bus.readAfter("log", id)).map((e) => e.data);
          await waitFor(async () => (await read(b, "0")).length === 10);
          assert.deepEqual(await read(b, "0"), Array.from({ length: 10 }, (_, i) => `e${i}`));
          assert.deepEqual(await read(b, ids[6]), ["e7", "e8", "e9"]);
          assert.deepEqual(await read(a, ids[9]), []);
          const two = await b.readAfter("log", ids[2], { count: 2 });
          assert.deepEqual(two, [{ id: ids[3], data: "e3" }, { id: ids[4], data: "e4" }]);
          assert.deepEqual(await b.readAfter("none", "0"), []);
          const more = await b.append("log", "e10");
          await waitFor(async () => (await read(a, ids[9])).length === 1);
          assert.deepEqual(await a.readAfter("log", ids[9]), [{ id: more, data: "e10" }]);
        });
        await t.step("an append after another side's has the higher id", async () => {
          for (let i = 0; i < 50; i++) {
            const first = await a.append("order", "a");
            await waitFor(async () => (await b.readAfter("order", "0")).at(-1)?.id === first);
            const second = await b.append("order", "b");
            assert.ok(compareIds(second, first) > 0, `${second} after ${first}`);
          }
        });
        await t.step("closing ends its subscriptions and refuses new ones", async () => {
          const sub = await a.subscribe("t");
          const pending = sub.next();
          await a.close();
          assert.equal(await pending, null);
          const err = await rejection(a.subscribe("t"));
          assert.ok(err instanceof ClosedError, String(err));
          assert.equal((err as Error).message, "bus subscribe t: closed");
        });
      } finally {
        await done();
      }
    }),
  );

  Deno.test(
    `${impl.name} bus: the log is bounded`,
    noLeaks(async () => {
      const { a, done } = await impl.pair(10);
      try {
        // MAXLEN ~ trims whole nodes of the stream: about 10, never the 1000.
        for (let i = 0; i < 1000; i++) await a.append("bounded", String(i));
        const kept = await a.readAfter("bounded", "0");
        assert.ok(kept.length >= 10 && kept.length < 500, `kept ${kept.length}`);
        assert.equal(kept.at(-1)?.data, "999");
      } finally {
        await done();
      }
    }),
  );
}

function compareIds(x: string, y: string): number {
  const [xm, xs] = x.split("-").map(Number), [ym, ys] = y.split("-").map(Number);
  return xm - ym || xs - ys;
}

async function waitFor(check: () => Promise<boolean>) {
  for (let i = 0; i < 200 && !(await check()); i++) await sleep(5);
}

Deno.test(
  "local bus: workers of one process share topics and logs",
  noLeaks(async () => {
    const name = uid();
    const busUrl = new URL("../src/bus.ts", import.meta.url).href;
    // Each worker subscribes, reports ready, and echoes what it receives and
    // the log it sees to the main thread.
    const source = `
      import { localBus } from "${busUrl}";
      const bus = localBus({ name: "${name}" });
      const sub = await bus.subscribe("t");
      self.onmessage = async (ev) => {
        if (ev.data === "log") self.postMessage({ log: await bus.readAfter("log", "0") });
        if (ev.data === "append") self.postMessage({ id: await bus.append("log", "from worker") });
        if (ev.data === "stop") { await bus.close(); self.postMessage({ stopped: true }); }
      };
      self.postMessage({ ready: true });
      for await (const msg of sub) self.postMessage({ got: msg.data });
    `;
    const file = await Deno.makeTempFile({ suffix: ".js" });
    await Deno.writeTextFile(file, source);
    const workers = [0, 1].map(() => new Worker(`file://${file}`, { type: "module" }));
    const inboxes = workers.map((w) => {
      const queue: Record<string, unknown>[] = [];
      w.onmessage = (ev) => queue.push(ev.data);
      return queue;
    });
    const take = async (i: number, key: string) => {
      for (let n = 0; n < 3000; n++) {
        const at = inboxes[i].findIndex((m) => key in m);
        if (at >= 0) return inboxes[i].splice(at, 1)[0][key];
        await sleep(5);
      }
      throw new Error(`worker ${i}: no ${key}`);
    };
    const bus = localBus({ name });
    try {
      for (const i of [0, 1]) await take(i, "ready");
      await bus.publish("t", "hello workers");
      for (const i of [0, 1]) assert.equal(await take(i, "got"), "hello workers");
      const id = await bus.append("log", "from main");
      workers[0].postMessage("append");
      const workerId = await take(0, "id") as string;
      const main = await bus.subscribe("t");
      workers[1].postMessage("log");
      const seen = await take(1, "log") as { id: string; data: string }[];
      assert.deepEqual(seen, [{ id, data: "from main" }, { id: workerId, data: "from worker" }]);
      await waitFor(async () => (await bus.readAfter("log", id)).length === 1);
      assert.deepEqual(await bus.readAfter("log", id), [{ id: workerId, data: "from worker" }]);
      await main.close();
      for (const i of [0, 1]) {
        workers[i].postMessage("stop");
        await take(i, "stopped");
      }
    } finally {
      for (const w of workers) w.terminate();
      await bus.close();
      await Deno.remove(file);
    }
  }),
);

Deno.test(
  "local bus: an append right after another worker's, before that entry's message arrives, still gets the higher id",
  noLeaks(async () => {
    const name = uid();
    const busUrl = new URL("../src/bus.ts", import.meta.url).href;
    // The worker blocks in Atomics.wait (so the main thread's entry cannot
    // reach its bus), wakes when the main thread has appended, and appends.
    const source = `
      import { localBus } from "${busUrl}";
      const bus = localBus({ name: "${name}" });
      self.onmessage = async (ev) => {
        const flag = new Int32Array(ev.data.sab);
        const ids = [];
        for (let round = 1; round <= ev.data.rounds; round++) {
          Atomics.wait(flag, 0, round - 1);
          ids.push(await bus.append("log", "worker " + round));
          Atomics.store(flag, 1, round);
          Atomics.notify(flag, 1);
        }
        await bus.close();
        self.postMessage(ids);
      };
    `;
    const file = await Deno.makeTempFile({ suffix: ".js" });
    await Deno.writeTextFile(file, source);
    const worker = new Worker(`file://${file}`, { type: "module" });
    const bus = localBus({ name });
    try {
      const sab = new SharedArrayBuffer(8);
      const flag = new Int32Array(sab);
      const rounds = 30;
      const done = new Promise<string[]>((resolve) => worker.onmessage = (ev) => resolve(ev.data));
      worker.postMessage({ sab, rounds });
      const mine: string[] = [];
      for (let round = 1; round <= rounds; round++) {
        mine.push(await bus.append("log", `main ${round}`));
        Atomics.store(flag, 0, round);
        Atomics.notify(flag, 0);
        while (Atomics.load(flag, 1) < round) await sleep(0);
      }
      const theirs = await done;
      for (let i = 0; i < rounds; i++) {
        assert.ok(
          compareIds(mine[i], theirs[i]) < 0,
          `round ${i + 1}: ${mine[i]} then ${theirs[i]}`,
        );
      }
    } finally {
      await bus.close();
      worker.terminate();
      await Deno.remove(file);
    }
  }),
);

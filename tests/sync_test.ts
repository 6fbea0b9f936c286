import assert from "node:assert/strict";
import {
  Cancelled,
  Channel,
  ClosedError,
  Event,
  Flag,
  Mutex,
  scope,
  Semaphore,
  sleep,
  spawn,
  TimeoutError,
  WaitGroup,
} from "../mod.ts";
import { noLeaks } from "./leak.ts";
import { rejection } from "./rejection.ts";

Deno.test(
  "Channel",
  noLeaks(async (t) => {
    await t.step("unbuffered send waits for a receiver", async () => {
      const ch = new Channel<string>();
      let delivered = false;
      const sender = spawn(async () => {
        await ch.send("hi");
        delivered = true;
      });
      await sleep(2);
      assert.equal(delivered, false);
      assert.equal(await ch.recv(), "hi");
      await sender;
      assert.equal(delivered, true);
    });

    await t.step("buffered send waits only when full, and order is kept", async () => {
      const ch = new Channel<number>(2);
      await ch.send(1);
      await ch.send(2);
      assert.equal(ch.length, 2);
      const third = ch.send(3);
      let thirdDone = false;
      third.then(() => thirdDone = true);
      await sleep(1);
      assert.equal(thirdDone, false);
      assert.deepEqual([await ch.recv(), await ch.recv(), await ch.recv()], [1, 2, 3]);
      await third;
    });

    await t.step("close: buffered values drain, then recv throws ClosedError", async () => {
      const ch = new Channel<number>(3);
      await ch.send(1);
      await ch.send(2);
      ch.close();
      ch.close();
      assert.ok(ch.closed);
      assert.ok(await rejection(ch.send(3)) instanceof ClosedError);
      assert.equal(await ch.recv(), 1);
      assert.equal(await ch.recv(), 2);
      const err = await rejection(ch.recv()) as ClosedError;
      assert.equal(err.code, "closed");
      assert.equal(err.message, "channel recv: closed");
    });

    await t.step("close wakes parked senders and receivers", async () => {
      const a = new Channel<number>(), b = new Channel<number>();
      const sender = a.send(1);
      const receiver = b.recv();
      a.close();
      b.close();
      assert.ok(await rejection(sender) instanceof ClosedError);
      assert.ok(await rejection(receiver) instanceof ClosedError);
    });

    await t.step("async iteration ends at close after draining", async () => {
      const ch = new Channel<number>(4);
      const producer = spawn(async () => {
        for (let i = 0; i < 10; i++) await ch.send(i);
        ch.close();
      });
      const seen: number[] = [];
      for await (const v of ch) seen.push(v);
      await producer;
      assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    await t.step("a timed-out recv leaves the channel usable", async () => {
      const ch = new Channel<number>();
      assert.ok(await rejection(ch.recv({ timeout: 2 })) instanceof TimeoutError);
      const r = ch.recv();
      await ch.send(9);
      assert.equal(await r, 9);
    });

    await t.step("a cancelled sender does not deliver its value", async () => {
      const ch = new Channel<string>();
      const sender = spawn(() => ch.send("lost"));
      sender.cancel();
      assert.ok(await rejection(sender) instanceof Cancelled);
      const s2 = ch.send("kept");
      assert.equal(await ch.recv(), "kept");
      await s2;
    });

    await t.step("bad capacity is refused", () => {
      assert.throws(() => new Channel(-1), RangeError);
      assert.throws(() => new Channel(1.5), RangeError);
    });
  }),
);

Deno.test(
  "Mutex",
  noLeaks(async (t) => {
    await t.step("serialises critical sections", async () => {
      const mutex = new Mutex();
      let inside = 0, maxInside = 0;
      await scope(() => {
        for (let i = 0; i < 5; i++) {
          spawn(() =>
            mutex.withLock(async () => {
              inside++;
              maxInside = Math.max(maxInside, inside);
              await sleep(1);
              inside--;
            })
          );
        }
      });
      assert.equal(maxInside, 1);
      assert.equal(mutex.locked, false);
    });

    await t.step("lock waits time out; unlock of a free mutex throws", async () => {
      const mutex = new Mutex();
      await mutex.lock();
      assert.ok(await rejection(mutex.lock({ timeout: 2 })) instanceof TimeoutError);
      mutex.unlock();
      assert.throws(() => mutex.unlock(), /not locked/);
    });

    await t.step("withLock releases when the body throws", async () => {
      const mutex = new Mutex();
      await rejection(mutex.withLock(() => {
        throw new Error("x");
      }));
      assert.equal(mutex.locked, false);
    });
  }),
);

Deno.test(
  "Semaphore",
  noLeaks(async (t) => {
    await t.step("limits concurrency to its permits", async () => {
      const sem = new Semaphore(3);
      let inside = 0, maxInside = 0;
      await scope(() => {
        for (let i = 0; i < 12; i++) {
          spawn(() =>
            sem.withPermit(async () => {
              inside++;
              maxInside = Math.max(maxInside, inside);
              await sleep(1);
              inside--;
            })
          );
        }
      });
      assert.equal(maxInside, 3);
      assert.equal(sem.available, 3);
    });

    await t.step("tryAcquire and a cancelled acquire", async () => {
      const sem = new Semaphore(1);
      assert.equal(sem.tryAcquire(), true);
      assert.equal(sem.tryAcquire(), false);
      const waiter = spawn(() => sem.acquire());
      waiter.cancel();
      assert.ok(await rejection(waiter) instanceof Cancelled);
      sem.release();
      assert.equal(sem.available, 1);
      assert.throws(() => new Semaphore(-1), RangeError);
    });
  }),
);

Deno.test(
  "WaitGroup and Flag",
  noLeaks(async (t) => {
    await t.step("WaitGroup waits for every done", async () => {
      const wg = new WaitGroup();
      let finished = 0;
      for (let i = 0; i < 4; i++) {
        wg.add();
        spawn(async () => {
          await sleep(i);
          finished++;
          wg.done();
        });
      }
      await wg.wait();
      assert.equal(finished, 4);
      assert.equal(wg.count, 0);
      assert.throws(() => wg.done(), RangeError);
    });

    await t.step("WaitGroup wait honours a timeout", async () => {
      const wg = new WaitGroup();
      wg.add();
      assert.ok(await rejection(wg.wait({ timeout: 2 })) instanceof TimeoutError);
      wg.done();
    });

    await t.step("the deprecated Event name is Flag", () => {
      assert.equal(Event, Flag);
      assert.ok(new Event() instanceof Flag);
    });

    await t.step("Flag wakes all waiters and stays set until cleared", async () => {
      const ev = new Flag();
      const waiters = [spawn(() => ev.wait()), spawn(() => ev.wait())];
      ev.set();
      await Promise.all(waiters);
      assert.ok(ev.isSet);
      await ev.wait();
      ev.clear();
      assert.ok(await rejection(ev.wait({ timeout: 2 })) instanceof TimeoutError);
    });
  }),
);

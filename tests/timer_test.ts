import { equal, ok, rejects, throws } from "node:assert/strict";
import { Cancelled, scope, sleep, spawn } from "../mod.ts";
import { after, at, every, now, type Timer } from "../src/timer.ts";
import { noLeaks } from "./leak.ts";

Deno.test(
  "timer: intervals and one-shots",
  noLeaks(async (t) => {
    await t.step("every ticks until cancelled from its callback", async () => {
      const seen: number[] = [];
      const timer = every(2, (tm) => {
        seen.push(tm.ticks);
        if (tm.ticks === 3) tm.cancel();
      });
      ok(timer.active);
      await timer.done();
      equal(timer.active, false);
      equal(seen.join(","), "1,2,3");
    });
    await t.step("ticks do not overlap while an async callback runs", async () => {
      let running = 0, maxRunning = 0;
      const timer = every(1, async (tm) => {
        maxRunning = Math.max(maxRunning, ++running);
        await sleep(5);
        running--;
        if (tm.ticks === 4) tm.cancel();
      });
      await timer.done();
      equal(maxRunning, 1);
      equal(timer.ticks, 4);
    });
    await t.step("after fires once", async () => {
      let calls = 0;
      const timer = after(1, () => void calls++);
      await timer.done();
      equal(calls, 1);
    });
    await t.step("a cancelled one-shot never fires", async () => {
      let calls = 0;
      const timer = after(10_000, () => void calls++);
      timer.cancel();
      await timer.done();
      equal(calls, 0);
      timer.cancel();
    });
    await t.step("at takes a Date or epoch ms; a past time fires at once", async () => {
      const order: string[] = [];
      const later = at(new Date(Date.now() + 5), () => void order.push("date"));
      const past = at(Date.now() - 1000, () => void order.push("past"));
      await Promise.all([later.done(), past.done()]);
      equal(order.join(","), "past,date");
    });
    await t.step("a time beyond setTimeout's range does not fire early", async () => {
      let calls = 0;
      const far = at(Date.now() + 2 ** 32, () => void calls++);
      await sleep(20);
      equal(calls, 0);
      ok(far.active);
      far.cancel();
      await far.done();
    });
    await t.step("using cancels at the end of the block", async () => {
      let timer: Timer;
      {
        using tm = every(10_000, () => {});
        timer = tm;
      }
      await timer.done();
      equal(timer.active, false);
    });
    await t.step("bad arguments are refused", () => {
      throws(() => every(0, () => {}), RangeError);
      throws(() => after(-1, () => {}), RangeError);
      throws(() => at(NaN, () => {}), RangeError);
      throws(() => at("soon" as never, () => {}), {
        name: "TypeError",
        message: "at: time must be a number (epoch ms) or a Date, got string",
      });
    });
    await t.step("now is monotonic", () => {
      let last = now();
      for (let i = 0; i < 1000; i++) {
        const n = now();
        ok(n >= last);
        last = n;
      }
    });
  }),
);

Deno.test(
  "timer: timers owned by a task die with it",
  noLeaks(async (t) => {
    await t.step("cancelling the owner cancels its timer", async () => {
      let timer: Timer | undefined;
      const owner = spawn(async () => {
        timer = every(1, () => {});
        await sleep(60_000);
      });
      await sleep(5);
      owner.cancel();
      await rejects(owner.then(), Cancelled);
      await rejects(timer!.done(), Cancelled);
      equal(timer!.active, false);
    });
    await t.step("a callback waiting when its timer is cancelled wakes up", async () => {
      let woke: unknown;
      const timer = after(0, async () => {
        try {
          await sleep(60_000);
        } catch (err) {
          woke = err;
          throw err;
        }
      });
      await sleep(5);
      timer.cancel();
      await timer.done();
      ok(woke instanceof Cancelled);
    });
    await t.step("a finished owner's timer stops without calling back", async () => {
      let calls = 0;
      let timer: Timer | undefined;
      await scope(() => {
        timer = every(5, () => void calls++);
      });
      equal(calls, 0);
      equal(timer!.active, false);
    });
    await t.step("a returned owner's timer stops at once, not at its next tick", async () => {
      let interval: Timer | undefined;
      let oneShot: Timer | undefined;
      await spawn(() => {
        interval = every(60_000, () => {});
        oneShot = after(60_000, () => {});
      });
      // Both would still be waiting for a tick a minute away if they stopped at the next one.
      await Promise.all([interval!.done(), oneShot!.done()]);
      equal(interval!.active, false);
      equal(oneShot!.active, false);
      equal(interval!.ticks + oneShot!.ticks, 0);
    });
    await t.step("a failed owner's timer stops too", async () => {
      let timer: Timer | undefined;
      await rejects(
        spawn(() => {
          timer = every(60_000, () => {});
          throw new Error("owner failed");
        }).then(),
        { message: "owner failed" },
      );
      await timer!.done();
      equal(timer!.active, false);
    });
    await t.step("a callback error stops the timer and reaches done()", async () => {
      const timer = every(1, (tm) => {
        if (tm.ticks === 2) throw new Error("boom");
      });
      await rejects(timer.done(), { message: "boom" });
      equal(timer.ticks, 2);
    });
    await t.step("an aborted signal stops a timer", async () => {
      const ac = new AbortController();
      const timer = every(1, () => {}, { signal: ac.signal });
      ac.abort();
      await rejects(timer.done(), Cancelled);
    });
  }),
);

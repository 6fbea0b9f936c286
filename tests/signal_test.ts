import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { Cancelled, sleep, spawn, TimeoutError } from "../mod.ts";
import { onShutdown, shutdown, wait } from "../src/signal.ts";
import { noLeaks } from "./leak.ts";

const FIXTURE = new URL("./fixtures/signal_child.ts", import.meta.url).pathname;

/** Runs the fixture; `onLine` sees each stdout line as it arrives. */
async function child(
  mode: string,
  onLine: (line: string, proc: Deno.ChildProcess) => void = () => {},
): Promise<{ lines: string[]; status: Deno.CommandStatus }> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", FIXTURE, mode],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines: string[] = [];
  let rest = "";
  for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      onLine(line, proc);
    }
  }
  return { lines, status: await proc.status };
}

Deno.test(
  "signal: wait",
  noLeaks(async (t) => {
    await t.step("a signal sent to the own process is delivered", async () => {
      const got = wait("USR1");
      Deno.kill(Deno.pid, "SIGUSR1");
      equal(await got, "USR1");
    });
    await t.step("waits on several signals and tells which came; SIG names work", async () => {
      const got = wait(["SIGUSR1", "USR2"]);
      Deno.kill(Deno.pid, "SIGUSR2");
      equal(await got, "USR2");
    });
    await t.step("one-shot: two waiters both wake on one signal", async () => {
      const a = wait("HUP"), b = wait("HUP");
      Deno.kill(Deno.pid, "SIGHUP");
      deepEqual(await Promise.all([a, b]), ["HUP", "HUP"]);
    });
    await t.step("cancelling the task wakes the wait", async () => {
      const task = spawn(() => wait("USR1"));
      task.cancel();
      await rejects(task.then(), Cancelled);
    });
    await t.step("timeout and signal options", async () => {
      await rejects(wait("USR1", { timeout: 10 }), (err: unknown) => {
        ok(err instanceof TimeoutError);
        equal(err.message, "signal SIGUSR1: timed out");
        return true;
      });
      await rejects(wait("USR1", { signal: AbortSignal.abort() }), Cancelled);
    });
    await t.step("a signal that cannot be caught is refused", async () => {
      await rejects(wait("SIGKILL"), /signal SIGKILL/);
    });
  }),
);

Deno.test(
  "signal: the default action is replaced while armed and restored after",
  noLeaks(async (t) => {
    await t.step("after a delivered wait", async () => {
      const { lines, status } = await child("restore", (line, proc) => {
        if (line === "ready") proc.kill("SIGHUP");
      });
      deepEqual(lines, ["ready", "got HUP"]);
      equal(status.signal, "SIGHUP");
    });
    await t.step("after a timed-out wait", async () => {
      const { lines, status } = await child("restore-cancelled");
      deepEqual(lines, ["timeout"]);
      equal(status.signal, "SIGHUP");
    });
    await t.step("an armed wait keeps the process alive", async () => {
      const { lines, status } = await child("alone", (line, proc) => {
        if (line === "ready") setTimeout(() => proc.kill("SIGUSR1"), 50);
      });
      deepEqual(lines, ["ready", "got USR1"]);
      equal(status.code, 0);
    });
  }),
);

Deno.test(
  "signal: graceful shutdown",
  noLeaks(async (t) => {
    await t.step("cleanups run newest first, once; removed ones do not run", async () => {
      const order: string[] = [];
      onShutdown(() => void order.push("a"));
      const removed = onShutdown(() => void order.push("removed"));
      onShutdown(async () => {
        await sleep(1);
        order.push("c");
      });
      removed.remove();
      const report = await shutdown({ exit: false });
      deepEqual(report, { ok: true, timedOut: false, errors: [] });
      deepEqual(order, ["c", "a"]);
      await shutdown({ exit: false });
      deepEqual(order, ["c", "a"]);
    });
    await t.step("errors are collected and later cleanups still run", async () => {
      const order: string[] = [];
      onShutdown(() => void order.push("first"));
      onShutdown(() => {
        throw new Error("broken");
      });
      const report = await shutdown({ exit: false });
      equal(report.ok, false);
      equal((report.errors[0] as Error).message, "broken");
      deepEqual(order, ["first"]);
    });
    await t.step("the budget wakes slow cleanups and abandons stuck ones", async () => {
      const order: string[] = [];
      onShutdown(() => void order.push("last"));
      let release = () => {};
      onShutdown(() => new Promise<void>((resolve) => release = resolve));
      onShutdown(() => sleep(60_000));
      const report = await shutdown({ exit: false, timeout: 30 });
      equal(report.ok, false);
      equal(report.timedOut, true);
      ok(report.errors[0] instanceof TimeoutError);
      deepEqual(order, []);
      // The abandoned cleanup goes on; when it ends, the rest runs.
      release();
      await sleep(1);
      deepEqual(order, ["last"]);
    });
    await t.step("SIGTERM runs the cleanups and exits 0", async () => {
      const { lines, status } = await child("shutdown", (line, proc) => {
        if (line === "ready") proc.kill("SIGTERM");
      });
      deepEqual(lines, ["ready", "cleanup second-registered", "cleanup first-registered"]);
      equal(status.code, 0);
    });
    await t.step("a stuck cleanup is given up after the budget; exit code 1", async () => {
      const { lines, status } = await child("stuck", (line, proc) => {
        if (line === "ready") proc.kill("SIGTERM");
      });
      deepEqual(lines, ["ready", "cleanup second-registered"]);
      equal(status.code, 1);
    });
    await t.step("a second signal kills at once", async () => {
      const { lines, status } = await child("slow", (line, proc) => {
        if (line === "ready") proc.kill("SIGTERM");
        if (line === "cleanup second-registered") proc.kill("SIGTERM");
      });
      deepEqual(lines, ["ready", "cleanup second-registered"]);
      equal(status.signal, "SIGTERM");
    });
  }),
);

Deno.test(
  "signal: wait() refuses what is not a signal it can wait for with a TypeError naming it",
  noLeaks(async () => {
    const cases: [unknown, string][] = [
      [null, "signal: wait() takes a signal name or an array of them, got null"],
      [[1], "signal: wait() takes a signal name or an array of them, got 1"],
      [[], "signal: wait() takes a signal name or an array of them, got an empty array"],
      ["SIGBOGUS", "signal SIGBOGUS: Invalid signal: SIGBOGUS"],
      ["KILL", "signal SIGKILL: Binding to signal 'SIGKILL' is not allowed"],
    ];
    for (const [signals, message] of cases) {
      const err = await wait(signals as never).then(() => undefined, (e) => e);
      ok(err instanceof TypeError, String(err));
      equal(err.message, message);
    }
  }),
);

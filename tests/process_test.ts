import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { Cancelled, NotFound, spawn, TimeoutError } from "../mod.ts";
import { type ChildProcess, exec, spawn as deprecatedSpawn, spawnProcess } from "../src/process.ts";
import { noLeaks } from "./leak.ts";

const text = new TextDecoder();

/** True while a process with this pid runs (a zombie waiting to be reaped does not). */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** A shell command that records its pid in a file and then sleeps. */
async function sleeper(): Promise<{ pidFile: string; args: string[] }> {
  const pidFile = await Deno.makeTempFile({ prefix: "lunet_pid_" });
  return { pidFile, args: ["-c", `echo $$ > ${pidFile}; exec sleep 30`] };
}

async function readPid(pidFile: string): Promise<number> {
  const pid = Number((await Deno.readTextFile(pidFile)).trim());
  await Deno.remove(pidFile);
  ok(pid > 0, "no pid recorded");
  return pid;
}

Deno.test(
  "process: exec",
  noLeaks(async (t) => {
    await t.step("returns code, signal, stdout and stderr", async () => {
      const r = await exec("sh", ["-c", "echo out; echo err >&2; exit 3"]);
      equal(r.code, 3);
      equal(r.success, false);
      equal(r.signal, null);
      equal(r.stdout, "out\n");
      equal(r.stderr, "err\n");
    });
    await t.step("feeds stdin; binary output with NUL bytes is intact", async () => {
      const data = new Uint8Array([0, 1, 2, 0, 255, 0]);
      const r = await exec("cat", [], { stdin: data });
      deepEqual(r.bytes.stdout, data);
      equal((await exec("wc", ["-l"], { stdin: "a\nb\nc\n" })).stdout.trim(), "3");
    });
    await t.step("cwd and env", async () => {
      const dir = await Deno.realPath(await Deno.makeTempDir());
      const r = await exec("sh", ["-c", 'pwd; echo "$LUNET_X"'], {
        cwd: dir,
        env: { LUNET_X: "42" },
      });
      equal(r.stdout, `${dir}\n42\n`);
      await Deno.remove(dir);
    });
    await t.step("a missing command is a clear error", async () => {
      throws(() => spawnProcess("lunet-no-such-command"), NotFound);
      await rejects(exec("lunet-no-such-command"), (err: unknown) => {
        ok(err instanceof NotFound);
        equal(err.message, "spawn lunet-no-such-command: not found");
        return true;
      });
    });
    await t.step("a timed-out child is killed and reaped", async () => {
      const { pidFile, args } = await sleeper();
      await rejects(exec("sh", args, { timeout: 300 }), (err: unknown) => {
        ok(err instanceof TimeoutError);
        equal(err.message, "exec sh: timed out");
        return true;
      });
      equal(await alive(await readPid(pidFile)), false);
    });
    await t.step("cancelling the task kills the child", async () => {
      const { pidFile, args } = await sleeper();
      const task = spawn(() => exec("sh", args));
      for (let i = 0; i < 500 && (await Deno.stat(pidFile)).size === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      task.cancel();
      await rejects(task.then(), Cancelled);
      equal(await alive(await readPid(pidFile)), false);
    });
  }),
);

Deno.test(
  "process: spawnProcess",
  noLeaks(async (t) => {
    await t.step("streams stdin and stdout both ways", async () => {
      await using child = spawnProcess("cat", [], { stdin: "piped" });
      ok(child.pid > 0);
      equal(await child.stdin!.write("ping"), 4);
      equal(text.decode((await child.stdout!.read())!), "ping");
      await child.stdin!.write(new Uint8Array([0, 10, 0]));
      deepEqual(await child.stdout!.read(), new Uint8Array([0, 10, 0]));
      await child.stdin!.close();
      equal(await child.stdout!.read(), null);
      deepEqual(await child.status(), { success: true, code: 0, signal: null });
    });
    await t.step("a timed-out read loses no output", async () => {
      await using child = spawnProcess("sh", ["-c", "read x; echo late"], { stdin: "piped" });
      await rejects(child.stdout!.read({ timeout: 20 }), (err: unknown) => {
        ok(err instanceof TimeoutError);
        equal(err.message, "read stdout of sh: timed out");
        return true;
      });
      await child.stdin!.write("go\n");
      equal(await child.stdout!.text(), "late\n");
    });
    await t.step("the lifetime timeout terminates the child", async () => {
      await using child = spawnProcess("sleep", ["30"], { timeout: 50 });
      const status = await child.status();
      equal(status.signal, "SIGTERM");
      equal(await alive(child.pid), false);
    });
    await t.step("a child ignoring SIGTERM gets SIGKILL after the grace period", async () => {
      await using child = spawnProcess("sh", ["-c", "trap '' TERM; echo ready; exec sleep 30"], {
        killGrace: 100,
      });
      equal(text.decode((await child.stdout!.read())!), "ready\n");
      const status = await child.terminate();
      equal(status.signal, "SIGKILL");
      equal(await alive(child.pid), false);
    });
    await t.step("cancelling the owner task terminates its child", async () => {
      let child: ChildProcess | undefined;
      const owner = spawn(async () => {
        child = spawnProcess("sleep", ["30"]);
        await child.status();
      });
      owner.cancel();
      await rejects(owner.then(), Cancelled);
      equal((await child!.close()).signal, "SIGTERM");
      equal(await alive(child!.pid), false);
    });
    await t.step("processGroup takes the child's own children down too", async () => {
      const child = spawnProcess("sh", ["-c", "sleep 30 & echo $!; wait"], { processGroup: true });
      const grandchild = Number(text.decode((await child.stdout!.read())!).trim());
      ok(await alive(grandchild));
      const status = await child.close();
      equal(status.signal, "SIGTERM");
      for (let i = 0; i < 200 && await alive(grandchild); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      equal(await alive(grandchild), false);
    });
    await t.step("spawn is the deprecated alias of spawnProcess", () => {
      equal(deprecatedSpawn, spawnProcess);
    });
    await t.step("status() can give up without killing the child", async () => {
      await using child = spawnProcess("cat", [], { stdin: "piped" });
      await rejects(child.status({ timeout: 10 }), TimeoutError);
      equal(child.exited, false);
      await child.stdin!.close();
      equal((await child.status()).code, 0);
    });
  }),
);

Deno.test(
  "process: a program that is not a non-empty string, or arguments that are not strings, are a TypeError naming them",
  noLeaks(async () => {
    const cases: [() => unknown, string][] = [
      [
        () => spawnProcess(null as never),
        "spawn: the program must be a non-empty string, got null",
      ],
      [() => spawnProcess(""), 'spawn: the program must be a non-empty string, got ""'],
      [() => spawnProcess("true", "x" as never), "spawn true: args must be an array of strings"],
      [() => spawnProcess("true", [1] as never), "spawn true: args must be an array of strings"],
    ];
    for (const [call, message] of cases) throws(call, { name: "TypeError", message });
    await rejects(exec(null as never), { name: "TypeError", message: cases[0][1] });
    await rejects(exec("true", ["a", 2] as never), { name: "TypeError", message: cases[2][1] });
  }),
);

import assert from "node:assert/strict";
import {
  bindTask,
  Cancelled,
  Channel,
  checkCancelled,
  ClosedError,
  current,
  DbError,
  type LunetError,
  scope,
  shield,
  sleep,
  spawn,
  type Task,
  TimeoutError,
  trace,
  withDeadline,
  withTimeout,
  yieldNow,
} from "../mod.ts";
import { park, race } from "../src/wait.ts";
import { noLeaks } from "./leak.ts";
import { rejection } from "./rejection.ts";

/** A cleanup step (say, a close) that fails with `err`. */
function closeThatFails(err: Error): never {
  throw err;
}

Deno.test(
  "spawn",
  noLeaks(async (t) => {
    await t.step("runs at once until its first wait, and is awaitable", async () => {
      const steps: string[] = [];
      const task = spawn(async () => {
        steps.push("started");
        await sleep(1);
        steps.push("finished");
        return 7;
      }, { name: "seven" });
      assert.deepEqual(steps, ["started"]);
      assert.deepEqual(task.name, "seven");
      assert.deepEqual(task.done, false);
      assert.deepEqual(await task, 7);
      assert.deepEqual(task.done, true);
      assert.deepEqual(steps, ["started", "finished"]);
    });

    await t.step("ids increase and default names use them", () => {
      const a = spawn(() => 1), b = spawn(() => 2);
      assert(b.id > a.id);
      assert.deepEqual(a.name, `task-${a.id}`);
    });

    await t.step("errors reach the awaiter unchanged", async () => {
      const boom = new Error("boom");
      const err = await rejection(spawn(() => {
        throw boom;
      }));
      assert.deepEqual(err, boom);
    });

    await t.step("current() is the running task across awaits", async () => {
      const task = spawn(async (self) => {
        await sleep(1);
        return current() === self;
      });
      assert.deepEqual(await task, true);
      assert.deepEqual(current(), undefined);
    });
  }),
);

Deno.test(
  "cancellation",
  noLeaks(async (t) => {
    await t.step("wakes a sleeping task with Cancelled carrying the reason", async () => {
      const task = spawn(() => sleep(60_000));
      task.cancel("stop");
      const err = await rejection(task) as Cancelled;
      assert(err instanceof Cancelled);
      assert.deepEqual(err.code, "cancelled");
      assert.deepEqual(err.cause, "stop");
      assert.deepEqual(err.message, "sleep: cancelled");
      assert(task.signal.aborted);
    });

    await t.step("wakes a task blocked on a channel and takes it off the queue", async () => {
      const ch = new Channel<number>();
      const blocked = spawn(() => ch.recv());
      blocked.cancel();
      assert(await rejection(blocked) instanceof Cancelled);
      const live = spawn(() => ch.recv());
      await ch.send(5);
      assert.deepEqual(await live, 5);
    });

    await t.step("cancelling a parent reaches grandchildren", async () => {
      const seen: string[] = [];
      let grandchild!: PromiseLike<unknown>;
      const parent = spawn(async () => {
        spawn(async () => {
          grandchild = spawn(async () => {
            try {
              await sleep(60_000);
            } catch (err) {
              seen.push((err as LunetError).code);
              throw err;
            }
          });
          await sleep(60_000);
        }).catch(() => {});
        await sleep(60_000);
      });
      await sleep(1);
      parent.cancel();
      assert(await rejection(parent) instanceof Cancelled);
      assert(await rejection(grandchild) instanceof Cancelled);
      assert.deepEqual(seen, ["cancelled"]);
    });

    await t.step("a task spawned under a cancelled parent starts cancelled", async () => {
      let child!: ReturnType<typeof spawn<void>>;
      const parent = spawn(async () => {
        await sleep(1).catch(() => {});
        child = spawn(() => sleep(60_000));
      });
      parent.cancel();
      await parent;
      assert(child.cancelled);
      assert(await rejection(child) instanceof Cancelled);
    });

    await t.step("a cancel that lands in a shielded cleanup keeps the original error", async () => {
      const original = new DbError("insert failed");
      let cleaned = false;
      const task = spawn(async () => {
        try {
          await sleep(1);
          throw original;
        } finally {
          await shield(async () => {
            await sleep(10);
            cleaned = true;
          });
        }
      });
      await sleep(4);
      task.cancel();
      assert.equal(await rejection(task), original);
      assert(cleaned);
    });

    await t.step("a scope waits for a shielded cleanup of a child it cancels", async () => {
      const steps: string[] = [];
      const boom = new Error("sibling failed");
      const err = await rejection(scope(() => {
        spawn(async () => {
          try {
            await sleep(60_000);
          } finally {
            await shield(async () => {
              await sleep(5);
              steps.push("cleaned");
            });
          }
        });
        spawn(async () => {
          await sleep(1);
          throw boom;
        });
      }));
      steps.push("scope returned");
      assert.equal(err, boom);
      assert.deepEqual(steps, ["cleaned", "scope returned"]);
    });

    await t.step(
      "a task spawned by a listener on a cancelled task's signal is its child",
      async () => {
        const outside = new AbortController();
        let late: Task<void> | undefined;
        setTimeout(() => outside.abort("stop"), 2);
        const err = await rejection(scope(async () => {
          current()!.signal.addEventListener("abort", () => {
            late = spawn(() => sleep(30));
          });
          await sleep(60_000);
        }, { signal: outside.signal, name: "listening" }));
        assert(err instanceof Cancelled);
        assert(late, "the listener ran");
        // The listener ran in the cancelled scope: its task started cancelled
        // and the scope waited for it.
        assert(late.done);
        assert(late.cancelled);
        await late.then(undefined, () => {});
      },
    );

    await t.step("spawn's signal option cancels the task", async () => {
      const controller = new AbortController();
      const task = spawn(() => sleep(60_000), { signal: controller.signal });
      controller.abort("bye");
      assert.deepEqual(((await rejection(task)) as Cancelled).cause, "bye");
    });

    await t.step("checkCancelled is a checkpoint for busy loops", async () => {
      const task = spawn(async () => {
        for (let i = 0;; i++) {
          if (i % 1000 === 0) await new Promise((r) => setTimeout(r, 0));
          checkCancelled("loop");
        }
      });
      await sleep(1);
      task.cancel();
      assert.deepEqual(((await rejection(task)) as Error).message, "loop: cancelled");
    });

    await t.step("yieldNow lets timers run and observes cancellation", async () => {
      let fired = false;
      setTimeout(() => fired = true, 0);
      await sleep(1);
      const task = spawn(async () => {
        for (;;) await yieldNow();
      });
      await sleep(2);
      task.cancel();
      assert(await rejection(task) instanceof Cancelled);
      assert(fired);
    });
  }),
);

Deno.test(
  "wait options",
  noLeaks(async (t) => {
    await t.step("timeout gives TimeoutError naming the wait", async () => {
      const err = await rejection(sleep(60_000, { timeout: 5 })) as TimeoutError;
      assert(err instanceof TimeoutError);
      assert.deepEqual(err.message, "sleep: timed out");
    });

    await t.step("a deadline in the past fails at once", async () => {
      assert(await rejection(sleep(1, { deadline: Date.now() - 1 })) instanceof TimeoutError);
    });

    await t.step("an aborted signal gives Cancelled", async () => {
      const controller = new AbortController();
      const p = new Channel<number>().recv({ signal: controller.signal });
      controller.abort("x");
      assert(await rejection(p) instanceof Cancelled);
    });

    await t.step("a negative timeout is a clear RangeError", () => {
      let err: unknown;
      try {
        sleep(1, { timeout: -1 });
      } catch (e) {
        err = e;
      }
      assert(err instanceof RangeError);
    });

    await t.step("race keeps the underlying operation for a later wait", async () => {
      const late = new Promise<string>((r) => setTimeout(r, 20, "late data"));
      assert(await rejection(race("read", late, { timeout: 1 })) instanceof TimeoutError);
      assert.deepEqual(await race("read", late), "late data");
    });

    await t.step(
      "race on a wait that is already over leaves the late failure handled",
      async () => {
        const late = () =>
          new Promise((_, reject) => setTimeout(reject, 5, new Error("late failure")));
        const past = race("read", late(), { deadline: Date.now() - 1 });
        assert(await rejection(past) instanceof TimeoutError);
        const aborted = race("read", late(), { signal: AbortSignal.abort("stop") });
        assert(await rejection(aborted) instanceof Cancelled);
        const task = spawn(async () => {
          await sleep(1_000).catch(() => {});
          return await race("read", late());
        });
        task.cancel();
        assert(await rejection(task) instanceof Cancelled);
        await sleep(20); // an unhandled late rejection would fail the test here
      },
    );

    await t.step("park runs the cleanup on an early wake", async () => {
      let cleaned = false;
      const p = park<void>("custom", { timeout: 1 }, () => () => cleaned = true);
      assert(await rejection(p) instanceof TimeoutError);
      assert(cleaned);
    });
  }),
);

Deno.test(
  "scope",
  noLeaks(async (t) => {
    await t.step("returns when every child is done, with the body's value", async () => {
      const done: number[] = [];
      const value = await scope(() => {
        for (const ms of [6, 2, 4]) {
          spawn(async () => {
            await sleep(ms);
            done.push(ms);
          });
        }
        return "body";
      });
      assert.deepEqual(value, "body");
      assert.deepEqual(done.sort(), [2, 4, 6]);
    });

    await t.step("waits for grandchildren too", async () => {
      let finished = false;
      await scope(() => {
        spawn(() => {
          spawn(async () => {
            await sleep(5);
            finished = true;
          });
        });
      });
      assert(finished);
    });

    await t.step("a failing child cancels its siblings and the error propagates", async () => {
      const outcomes: string[] = [];
      const boom = new Error("child failed");
      const err = await rejection(scope(() => {
        spawn(async () => {
          try {
            await sleep(60_000);
          } catch (e) {
            outcomes.push((e as LunetError).code);
            throw e;
          }
        });
        spawn(async () => {
          await sleep(2);
          throw boom;
        });
      }));
      assert.deepEqual(err, boom);
      assert.deepEqual(outcomes, ["cancelled"]);
    });

    await t.step("a failing body cancels the children", async () => {
      const child = { cancelled: false };
      const err = await rejection(scope(async () => {
        spawn(() => sleep(60_000)).catch((e) => child.cancelled = e instanceof Cancelled);
        await sleep(1);
        throw new DbError("body failed");
      }));
      assert(err instanceof DbError);
      assert(child.cancelled);
    });

    await t.step("an awaited child's failure belongs to its awaiter", async () => {
      const caught = await scope(async () => {
        try {
          await spawn(() => {
            throw new Error("handled");
          });
        } catch (err) {
          return (err as Error).message;
        }
      });
      assert.deepEqual(caught, "handled");
    });

    await t.step(
      "a cleanup error thrown while a sibling is cancelled rides on the first failure",
      async () => {
        const first = new Error("child failed"), cleanup = new Error("cleanup failed");
        const err = await rejection(scope(() => {
          spawn(async () => {
            try {
              await sleep(60_000);
            } finally {
              closeThatFails(cleanup);
            }
          });
          spawn(async () => {
            await sleep(2);
            throw first;
          });
        }));
        assert.equal(err, first);
        assert.deepEqual((err as { suppressedErrors?: unknown[] }).suppressedErrors, [cleanup]);
      },
    );

    await t.step("the body's own cleanup error is kept beside the first failure", async () => {
      const first = new DbError("child failed"), cleanup = new Error("body cleanup failed");
      const err = await rejection(scope(async () => {
        spawn(async () => {
          await sleep(2);
          throw first;
        });
        try {
          await sleep(60_000);
        } finally {
          closeThatFails(cleanup);
        }
      }));
      assert(err instanceof DbError);
      assert.equal(err, first);
      assert.deepEqual((err as { suppressedErrors?: unknown[] }).suppressedErrors, [cleanup]);
    });

    await t.step("a cleanup error inside a nested scope reaches the outer scope", async () => {
      const first = new Error("outer child failed"), cleanup = new Error("inner cleanup failed");
      const err = await rejection(scope(() => {
        spawn(() =>
          scope(async () => {
            spawn(async () => {
              try {
                await sleep(60_000);
              } finally {
                closeThatFails(cleanup);
              }
            });
            await sleep(60_000);
          })
        );
        spawn(async () => {
          await sleep(2);
          throw first;
        });
      }));
      assert.equal(err, first);
      assert.deepEqual((err as { suppressedErrors?: unknown[] }).suppressedErrors, [cleanup]);
    });

    await t.step("a first failure that cannot carry others gives an AggregateError", async () => {
      const cleanup = new Error("cleanup failed");
      const err = await rejection(scope(() => {
        spawn(async () => {
          try {
            await sleep(60_000);
          } finally {
            closeThatFails(cleanup);
          }
        });
        spawn(async () => {
          await sleep(2);
          throw "plain string";
        });
      })) as AggregateError;
      assert(err instanceof AggregateError);
      assert.deepEqual(err.errors, ["plain string", cleanup]);
      assert.equal(err.cause, "plain string");
    });

    await t.step(
      "a task spawned with a signal still fails its scope when nobody awaits it",
      async () => {
        const boom = new Error("signalled child failed");
        const err = await rejection(scope(() => {
          spawn(async () => {
            await sleep(1);
            throw boom;
          }, { signal: new AbortController().signal });
        }));
        assert.equal(err, boom);
      },
    );

    await t.step("spawning into a scope that has returned throws ClosedError", async () => {
      let caught: unknown = "nothing thrown";
      await scope(() => {
        setTimeout(() => {
          try {
            spawn(() => sleep(1), { name: "late" });
          } catch (err) {
            caught = err;
          }
        }, 5);
      }, { name: "finished" });
      await sleep(15);
      assert(caught instanceof ClosedError, String(caught));
      assert.equal(caught.message, 'spawn "late" in scope "finished": closed');
    });

    await t.step(
      "a listener bound with bindTask spawns into the scope that registered it",
      async () => {
        const controller = new AbortController();
        const aborter = spawn(async () => {
          await sleep(2);
          controller.abort();
        }, { name: "aborter" });
        let child: Task<void> | undefined;
        await scope(async () => {
          controller.signal.addEventListener(
            "abort",
            bindTask(() => {
              child = spawn(() => sleep(20));
            }),
          );
          await sleep(5);
        });
        assert(child, "the listener ran");
        assert(child.done, "the scope returned while its child ran on");
        await aborter;
      },
    );

    await t.step("nothing outlives the scope", async () => {
      const before = trace.snapshot().counts.task ?? 0;
      await scope(() => {
        for (let i = 0; i < 10; i++) spawn(() => sleep(i));
      });
      assert.deepEqual(trace.snapshot().counts.task ?? 0, before);
    });
  }),
);

Deno.test(
  "deadlines",
  noLeaks(async (t) => {
    await t.step("a budget shared across three steps", async () => {
      const completed: number[] = [];
      const err = await rejection(withTimeout(50, async () => {
        for (const step of [1, 2, 3]) {
          await sleep(20);
          completed.push(step);
        }
      })) as TimeoutError;
      assert(err instanceof TimeoutError);
      assert.deepEqual(err.code, "timeout");
      assert.deepEqual(completed, [1, 2]);
    });

    await t.step("the budget covers tasks spawned inside", async () => {
      let childError: unknown;
      const err = await rejection(withTimeout(10, () => {
        spawn(() => sleep(60_000)).catch((e) => childError = e);
      }));
      assert(err instanceof TimeoutError);
      assert(childError instanceof TimeoutError);
    });

    await t.step("a timed-out scope throws TimeoutError carrying a cleanup error", async () => {
      const cleanup = new Error("cleanup failed");
      const err = await rejection(withTimeout(5, () => {
        spawn(async () => {
          try {
            await sleep(60_000);
          } finally {
            closeThatFails(cleanup);
          }
        });
      }));
      assert(err instanceof TimeoutError, String(err));
      assert.deepEqual((err as { suppressedErrors?: unknown[] }).suppressedErrors, [cleanup]);
    });

    await t.step("withDeadline returns the value when in time", async () => {
      assert.deepEqual(await withDeadline(Date.now() + 1000, () => sleep(1).then(() => 3)), 3);
    });

    await t.step("a bad deadline is refused", () => {
      let err: unknown;
      try {
        withDeadline(NaN, () => 1);
      } catch (e) {
        err = e;
      }
      assert(err instanceof RangeError);
    });
  }),
);

Deno.test("errors carry stable codes", () => {
  assert.deepEqual(new TimeoutError("read").code, "timeout");
  assert.deepEqual(new Cancelled().code, "cancelled");
  assert.deepEqual(new ClosedError("listener").message, "listener: closed");
  const db = new DbError("insert: duplicate", { driverCode: "ER_DUP_ENTRY", sqlState: "23000" });
  assert.deepEqual([db.code, db.driverCode, db.sqlState, db.name], [
    "db",
    "ER_DUP_ENTRY",
    "23000",
    "DbError",
  ]);
});

async function runDeno(code: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

const modUrl = new URL("../mod.ts", import.meta.url).href;

const unobserved = new URL("./fixtures/task_unobserved_failure.ts", import.meta.url).pathname;

async function runFixture(path: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", path],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("an unobserved failure is reported once, other tasks finish, the process exits 1", async () => {
  const { code, stdout, stderr } = await runFixture(unobserved);
  assert.equal(code, 1, stderr);
  assert.equal(stdout, "survivor done\n");
  assert.equal(stderr.match(/task "orphan"/g)?.length, 1, stderr);
  assert.match(stderr, /Error: lost\n\s+at .*task_unobserved_failure\.ts:\d+/);
});

Deno.test("LUNET_TRACE=1 names what is still alive at exit", async () => {
  const { stderr } = await runDeno(
    `
    import { spawn, sleep, trace } from "${modUrl}";
    spawn(() => sleep(60_000), { name: "forgotten" });
    console.log(trace.enabled, trace.snapshot().entries.length);
    Deno.exit(0);
  `,
    { LUNET_TRACE: "1" },
  );
  assert(stderr.includes("task forgotten"), stderr);
  assert(stderr.includes("still alive"), stderr);
});

Deno.test("the current task coexists with AsyncLocalStorage", async () => {
  const { AsyncLocalStorage } = await import("node:async_hooks");
  const als = new AsyncLocalStorage<string>();
  const seen = await als.run("request-1", () =>
    spawn(async (self) => {
      await sleep(1);
      const outer = als.getStore();
      const inner = await als.run("request-2", async () => {
        await sleep(1);
        return [als.getStore(), current() === self];
      });
      return [outer, ...inner, current() === self];
    }));
  assert.deepEqual(seen, ["request-1", "request-2", true, true]);
});

/**
 * Graceful shutdown: cleanups registered with {@linkcode onShutdown}, run
 * newest first under one budget by {@linkcode shutdown}, on the first
 * SIGINT or SIGTERM once {@linkcode handleShutdownSignals} is armed.
 *
 * @module
 */
import { withDeadline } from "../scope.ts";
import { race } from "../_wait.ts";
import { denoName, listen, type SignalName } from "./_listen.ts";

/**
 * A cleanup registered with {@linkcode onShutdown}, or the listeners armed by
 * {@linkcode handleShutdownSignals}; `remove()` (or `using`) takes it back.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { onShutdown, shutdown } from "@lunet/lunet/signal";
 * let ran = false;
 * const hook = onShutdown(() => void (ran = true));
 * hook.remove();
 * await shutdown({ exit: false });
 * equal(ran, false);
 * ```
 */
export interface ShutdownHandle extends Disposable {
  /** Unregisters; harmless when already removed or already run. */
  remove(): void;
}

/**
 * Options of {@linkcode shutdown} and {@linkcode handleShutdownSignals}.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { shutdown, type ShutdownOptions } from "@lunet/lunet/signal";
 * const opts: ShutdownOptions = { timeout: 5000, exit: false };
 * equal((await shutdown(opts)).ok, true);
 * ```
 */
export interface ShutdownOptions {
  /** Budget for all cleanups together, in ms (default 10 000). */
  timeout?: number;
  /** Exit the process when the cleanups are done (default `true`). */
  exit?: boolean;
  /** Exit code; by default 0 when every cleanup finished in time, else 1. */
  code?: number;
}

/**
 * Options of {@linkcode handleShutdownSignals}.
 *
 * @example
 * ```ts
 * import { handleShutdownSignals, type ShutdownSignalOptions } from "@lunet/lunet/signal";
 * const opts: ShutdownSignalOptions = { signals: ["INT", "TERM", "HUP"], timeout: 3000 };
 * using _armed = handleShutdownSignals(opts); // disarmed at the end of the block
 * ```
 */
export interface ShutdownSignalOptions extends ShutdownOptions {
  /** The signals that start a shutdown (default `["INT", "TERM"]`). */
  signals?: readonly (SignalName | Deno.Signal)[];
}

/**
 * What {@linkcode shutdown} did (when it does not exit).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { onShutdown, shutdown } from "@lunet/lunet/signal";
 * onShutdown(() => {
 *   throw new Error("flush failed");
 * });
 * const { ok, timedOut, errors } = await shutdown({ exit: false });
 * deepEqual([ok, timedOut, errors.map((e) => (e as Error).message)], [
 *   false,
 *   false,
 *   ["flush failed"],
 * ]);
 * ```
 */
export interface ShutdownReport {
  /** True when every cleanup finished in time without throwing. */
  ok: boolean;
  /** True when the budget ran out before the cleanups finished. */
  timedOut: boolean;
  /** Errors thrown by cleanups (a timed-out cleanup's `TimeoutError` included). */
  errors: unknown[];
}

/** Time given to cleanups that ignore cancellation, after the budget. */
const HARD_GRACE_MS = 250;

interface Hook {
  cleanup: () => unknown;
}

// Shutdown is process-wide: one registry of cleanups, one run at a time.
const hooks: Hook[] = [];
let running: Promise<ShutdownReport> | undefined;

/**
 * Registers `cleanup` to run on {@linkcode shutdown}. Cleanups run one after
 * another, the most recently registered first (so a server registered after
 * the database pool it uses is closed before it), each at most once.
 *
 * @param cleanup Closes something; may return a promise, which is awaited.
 * @returns The handle that unregisters it.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { onShutdown, shutdown } from "@lunet/lunet/signal";
 * const order: string[] = [];
 * onShutdown(() => void order.push("database pool"));
 * onShutdown(async () => void order.push("server"));
 * await shutdown({ exit: false });
 * deepEqual(order, ["server", "database pool"]);
 * ```
 */
export function onShutdown(cleanup: () => unknown): ShutdownHandle {
  const hook: Hook = { cleanup };
  hooks.push(hook);
  const remove = () => {
    const i = hooks.indexOf(hook);
    if (i >= 0) hooks.splice(i, 1);
  };
  return { remove, [Symbol.dispose]: remove };
}

/**
 * Runs the registered cleanups (newest first) under one budget, then exits
 * unless `exit: false`. When the budget runs out, lunet waits inside the
 * cleanups wake with `TimeoutError`, the remaining cleanups still run (their
 * waits fail at once), and a cleanup stuck on something else is abandoned
 * shortly after. A second call while one runs returns the same result.
 * Errors of cleanups are reported, not thrown: on stderr before exiting,
 * or in the returned report.
 *
 * @param opts The budget, whether to exit, and the exit code.
 * @returns What happened, when `exit: false`; otherwise the process exits.
 * @throws {RangeError} `opts.timeout` is negative or not a number.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { onShutdown, shutdown } from "@lunet/lunet/signal";
 * onShutdown(() => new Promise((r) => setTimeout(r, 5)));
 * const report = await shutdown({ timeout: 1000, exit: false });
 * equal(report.ok, true);
 * ```
 */
export function shutdown(opts?: ShutdownOptions): Promise<ShutdownReport> {
  const timeout = budget(opts);
  running ??= runShutdown(timeout, opts).finally(() => running = undefined);
  return running;
}

function budget(opts: ShutdownOptions | undefined): number {
  const timeout = opts?.timeout ?? 10_000;
  if (!(timeout >= 0)) throw new RangeError(`shutdown: bad timeout ${timeout}`);
  return timeout;
}

async function runShutdown(
  timeout: number,
  opts: ShutdownOptions | undefined,
): Promise<ShutdownReport> {
  const deadline = Date.now() + timeout;
  const errors: unknown[] = [];
  const pending = hooks.splice(0).reverse();
  let timedOut = false;
  const all = withDeadline(deadline, async () => {
    for (const hook of pending) {
      try {
        await hook.cleanup();
      } catch (err) {
        errors.push(err);
      }
    }
  }).catch((err) => {
    timedOut = true;
    errors.push(err);
  });
  try {
    await race("shutdown", all, { deadline: deadline + HARD_GRACE_MS });
  } catch (err) {
    timedOut = true;
    errors.push(err);
  }
  const report = { ok: errors.length === 0, timedOut, errors };
  if (opts?.exit ?? true) {
    for (const err of errors) console.error("lunet: shutdown cleanup failed:", err);
    Deno.exit(opts?.code ?? (report.ok ? 0 : 1));
  }
  return report;
}

/**
 * Arms graceful shutdown: the first of `signals` (default SIGINT and
 * SIGTERM) starts {@linkcode shutdown} with `opts`; any later one kills the
 * process with that signal at once. The listeners do not keep the process
 * alive. `remove()` disarms them.
 *
 * The example is not run here: it serves until a real SIGINT or SIGTERM,
 * then exits the process.
 *
 * @param opts The signals, and the options of {@linkcode shutdown}.
 * @returns The handle that disarms the listeners.
 * @throws {RangeError} `opts.timeout` is negative or not a number.
 * @throws {TypeError} A signal that cannot be listened to (SIGKILL, SIGSTOP).
 *
 * @example
 * ```ts ignore
 * import { handleShutdownSignals, onShutdown } from "@lunet/lunet/signal";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * onShutdown(() => listener.close());
 * handleShutdownSignals({ timeout: 5000 });
 * for await (const conn of listener) conn.close();
 * ```
 */
export function handleShutdownSignals(opts?: ShutdownSignalOptions): ShutdownHandle {
  const signals = (opts?.signals ?? ["INT", "TERM"]).map(denoName);
  budget(opts);
  let started = false;
  const remove = listen(signals, (sig) => {
    if (!started) {
      started = true;
      shutdown(opts);
      return;
    }
    // A second signal: give up on the cleanups and die of it.
    remove();
    Deno.kill(Deno.pid, sig);
  });
  return { remove, [Symbol.dispose]: remove };
}

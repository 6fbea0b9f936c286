/**
 * POSIX signals for tasks, and graceful shutdown.
 *
 * {@linkcode wait} is one-shot and cancellable: while it is armed, the
 * signal no longer has its default effect (SIGINT no longer kills the
 * process); once it has fired or given up, the default action is back.
 * An armed wait keeps the process alive, like any pending wait.
 *
 * Graceful shutdown: register cleanups with {@linkcode onShutdown} (an HTTP
 * server's drain, a database pool's close, …) and call
 * {@linkcode handleShutdownSignals} once at start-up. On the first SIGINT or
 * SIGTERM, {@linkcode shutdown} runs the cleanups, newest first, under one
 * deadline, then exits; a second signal during that time exits at once.
 *
 * @example Wait for a signal
 * ```ts ignore
 * import { wait } from "@lunet/lunet/signal";
 * const name = await wait(["INT", "TERM"]);
 * console.log(`got SIG${name}`);
 * ```
 *
 * @example Graceful shutdown
 * ```ts ignore
 * import { handleShutdownSignals, onShutdown } from "@lunet/lunet/signal";
 * const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * onShutdown(() => server.close());
 * handleShutdownSignals({ timeout: 5000 });
 * ```
 * @module
 */
import { fromDenoError } from "./errors.ts";
import { withDeadline } from "./scope.ts";
import { park, race, type WaitOptions } from "./_wait.ts";

export type { WaitOptions } from "./_wait.ts";

/**
 * A signal name, without the `SIG` prefix. The full Deno name
 * (`"SIGINT"`) is accepted too. SIGKILL and SIGSTOP cannot be waited for.
 *
 * @example
 * ```ts
 * import type { SignalName } from "@lunet/lunet/signal";
 * const stop: SignalName[] = ["INT", "TERM"];
 * ```
 */
export type SignalName =
  | "INT"
  | "TERM"
  | "HUP"
  | "QUIT"
  | "USR1"
  | "USR2"
  | "WINCH"
  | "ALRM"
  | "PIPE"
  | "CHLD"
  | "CONT"
  | "TSTP"
  | "TTIN"
  | "TTOU"
  | "URG"
  | "XCPU"
  | "XFSZ"
  | "VTALRM"
  | "PROF"
  | "IO"
  | "PWR"
  | "SYS"
  | "TRAP"
  | "ABRT";

/**
 * A cleanup registered with {@linkcode onShutdown}, or the listeners armed by
 * {@linkcode handleShutdownSignals}; `remove()` (or `using`) takes it back.
 *
 * @example
 * ```ts
 * import { onShutdown } from "@lunet/lunet/signal";
 * const hook = onShutdown(() => console.log("bye"));
 * hook.remove();
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
 * import type { ShutdownOptions } from "@lunet/lunet/signal";
 * const opts: ShutdownOptions = { timeout: 5000, code: 0 };
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
 * import type { ShutdownSignalOptions } from "@lunet/lunet/signal";
 * const opts: ShutdownSignalOptions = { signals: ["INT", "TERM", "HUP"], timeout: 3000 };
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
 * import { shutdown } from "@lunet/lunet/signal";
 * const report = await shutdown({ exit: false });
 * console.log(report.ok, report.errors);
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
/** setInterval's longest period; only keeps the event loop alive. */
const KEEPALIVE_MS = 2 ** 31 - 1;

function denoName(name: SignalName | Deno.Signal): Deno.Signal {
  return (name.startsWith("SIG") ? name : `SIG${name}`) as Deno.Signal;
}

function shortName(sig: Deno.Signal): SignalName {
  return sig.slice(3) as SignalName;
}

let armed = 0;
let keepalive: ReturnType<typeof setInterval> | undefined;

/** Deno's signal listeners do not keep the process alive; an armed wait does. */
function holdProcess(): () => void {
  if (armed++ === 0) keepalive = setInterval(() => {}, KEEPALIVE_MS);
  return () => {
    if (--armed === 0) clearInterval(keepalive);
  };
}

/** Adds `handler` for every signal; returns the function that removes them all. */
function listen(signals: Deno.Signal[], handler: (sig: Deno.Signal) => void): () => void {
  const added: Array<[Deno.Signal, () => void]> = [];
  const removeAll = () => {
    for (const [sig, fn] of added.splice(0)) Deno.removeSignalListener(sig, fn);
  };
  try {
    for (const sig of signals) {
      const fn = () => handler(sig);
      Deno.addSignalListener(sig, fn);
      added.push([sig, fn]);
    }
  } catch (err) {
    removeAll();
    throw err;
  }
  return removeAll;
}

/**
 * Waits for one of `signals` and returns its short name. One-shot: the
 * listeners are removed as soon as it fires, is cancelled or times out, and
 * the default action of the signal is restored.
 *
 * @example
 * ```ts
 * import { wait } from "@lunet/lunet/signal";
 * const got = wait("USR1", { timeout: 1000 });
 * Deno.kill(Deno.pid, "SIGUSR1");
 * console.log(await got); // "USR1"
 * ```
 */
export function wait(
  signals: SignalName | Deno.Signal | readonly (SignalName | Deno.Signal)[],
  opts?: WaitOptions,
): Promise<SignalName> {
  const names = (typeof signals === "string" ? [signals] : [...signals]).map(denoName);
  const what = `signal ${names.join(",")}`;
  return park<SignalName>(what, opts, (resolve, reject) => {
    const release = holdProcess();
    let removeListeners: () => void;
    function stop(): void {
      removeListeners();
      release();
    }
    try {
      removeListeners = listen(names, (sig) => {
        stop();
        resolve(shortName(sig));
      });
    } catch (err) {
      release();
      reject(fromDenoError(err, "signal", names.join(",")));
      return;
    }
    return stop;
  });
}

interface Hook {
  cleanup: () => unknown;
}

const hooks: Hook[] = [];
let running: Promise<ShutdownReport> | undefined;

/**
 * Registers `cleanup` to run on {@linkcode shutdown}. Cleanups run one after
 * another, the most recently registered first (so a server registered after
 * the database pool it uses is closed before it), each at most once.
 *
 * @example
 * ```ts
 * import { onShutdown, shutdown } from "@lunet/lunet/signal";
 * onShutdown(async () => {
 *   console.log("flushing");
 * });
 * await shutdown({ exit: false });
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
 *
 * @example
 * ```ts
 * import { onShutdown, shutdown } from "@lunet/lunet/signal";
 * onShutdown(() => console.log("closing"));
 * const report = await shutdown({ timeout: 1000, exit: false });
 * console.log(report.ok); // true
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
 * SIGTERM) starts {@linkcode shutdown} with `opts`; a second one while it
 * runs kills the process with that signal at once. The listeners do not
 * keep the process alive. `remove()` disarms them.
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

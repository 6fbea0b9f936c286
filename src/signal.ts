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
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { wait } from "@lunet/lunet/signal";
 * const got = wait(["USR1", "USR2"], { timeout: 5000 });
 * Deno.kill(Deno.pid, "SIGUSR1");
 * equal(await got, "USR1");
 * ```
 *
 * @example Graceful shutdown (not run here: it waits for a real SIGINT or SIGTERM, then exits)
 * ```ts ignore
 * import { handleShutdownSignals, onShutdown } from "@lunet/lunet/signal";
 * const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * onShutdown(() => server.close());
 * handleShutdownSignals({ timeout: 5000 });
 * ```
 * @module
 */
export type { WaitOptions } from "./_wait.ts";
export { type SignalName, wait } from "./signal/_listen.ts";
export {
  handleShutdownSignals,
  onShutdown,
  shutdown,
  type ShutdownHandle,
  type ShutdownOptions,
  type ShutdownReport,
  type ShutdownSignalOptions,
} from "./signal/_shutdown.ts";

/**
 * What every running server offers ({@linkcode Server}), and the wiring
 * of its graceful shutdown to lunet/signal's `onShutdown` (so
 * SIGINT/SIGTERM drain it once `handleShutdownSignals()` is armed) and to
 * an optional AbortSignal.
 *
 * @module
 */
import type { SocketAddr } from "../socket.ts";
import { onShutdown } from "../signal.ts";

/**
 * Options of {@linkcode Server.shutdown}.
 *
 * @example
 * ```ts
 * import type { ShutdownOptions } from "@lunet/lunet/http";
 * const opts: ShutdownOptions = { timeout: 5000 };
 * ```
 */
export interface ShutdownOptions {
  /** Give in-flight requests this long (ms; default 10 000). */
  timeout?: number;
  /** Or until this absolute time (epoch ms). */
  deadline?: number;
}

/**
 * A running HTTP server.
 *
 * @example
 * ```ts
 * import { serve } from "@lunet/lunet/http";
 * const server = await serve(() => ({ ok: true }), { port: 0 });
 * const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * console.log(await res.json()); // { ok: true }
 * await server.shutdown();
 * ```
 */
export interface Server {
  /** The bound address (with the real port when 0 was asked for). */
  readonly addr: SocketAddr;
  /** Open connections (with workers: as last reported by them, ≤ 100 ms old). */
  readonly connections: number;
  /** Resolves once the server has shut down. */
  readonly finished: Promise<void>;
  /**
   * Stops accepting, closes idle keep-alive connections, lets in-flight
   * requests finish (their responses say `Connection: close`), and after
   * the deadline cancels what is left. Idempotent.
   */
  shutdown(opts?: ShutdownOptions): Promise<void>;
}

/** The deadline (epoch ms) asked for by `opts`; 10 s from now by default. */
export function shutdownDeadline(opts: ShutdownOptions): number {
  return opts.deadline ?? Date.now() + (opts.timeout ?? 10_000);
}

/**
 * Registers `server`'s graceful shutdown with `onShutdown` and with
 * `signal`, until the server has finished.
 */
export function wireShutdown(server: Server, signal: AbortSignal | undefined): void {
  const hook = onShutdown(() => server.shutdown());
  const onAbort = () => server.shutdown();
  server.finished.then(() => {
    hook.remove();
    signal?.removeEventListener("abort", onAbort);
  });
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
}

/**
 * What every running server offers ({@linkcode Server}), the options
 * every kind of server takes ({@linkcode BaseServeOptions}), and the
 * wiring of its graceful shutdown to lunet/signal's `onShutdown` (so
 * SIGINT/SIGTERM drain it once `handleShutdownSignals()` is armed, unless
 * `shutdownOnSignal: false`) and to an optional AbortSignal.
 *
 * @module
 */
import type { SocketAddr } from "../socket.ts";
import { onShutdown } from "../signal.ts";
import type { HttpLimits } from "./limits.ts";
import type { CompressServeOptions } from "./_compress.ts";
import type { TlsServeOptions } from "./_tls_serve.ts";

/**
 * The options `serve(app, opts)` and `serve({ workers })` share: where to
 * listen, limits and timeouts (see {@linkcode HttpLimits}), and how the
 * server's graceful shutdown is started.
 *
 * @example
 * ```ts
 * import type { BaseServeOptions } from "@lunet/lunet/http";
 * const opts: BaseServeOptions = { port: 8080, idleTimeout: 10_000, shutdownOnSignal: false };
 * ```
 */
export interface BaseServeOptions
  extends Partial<HttpLimits>, CompressServeOptions, TlsServeOptions {
  /** Host to bind (default `127.0.0.1`; a public one needs `dangerouslyAllowPublic`). */
  host?: string;
  /** TCP port (default 8000; 0 picks a free one). */
  port?: number;
  /** Allow a non-loopback host. */
  dangerouslyAllowPublic?: boolean;
  /** Listen backlog (of each worker, with workers). */
  backlog?: number;
  /** Starts a graceful shutdown when this signal aborts. */
  signal?: AbortSignal;
  /**
   * Registers the server's graceful shutdown with lunet/signal's
   * `onShutdown`, so lunet/signal's `shutdown()` (which
   * `handleShutdownSignals()` runs on SIGINT/SIGTERM) drains it before the
   * process exits. Set `false` to shut the server down only yourself
   * (`server.shutdown()` or `signal`).
   *
   * @default {true}
   */
  shutdownOnSignal?: boolean;
}

/**
 * Options of {@linkcode Server.shutdown}.
 *
 * @example
 * ```ts
 * import type { ServerShutdownOptions } from "@lunet/lunet/http";
 * const opts: ServerShutdownOptions = { timeout: 5000 };
 * ```
 */
export interface ServerShutdownOptions {
  /** Give in-flight requests this long (ms; default 10 000). */
  timeout?: number;
  /** Or until this absolute time (epoch ms). */
  deadline?: number;
  /**
   * Leave idle keep-alive connections open this long (ms, within the
   * deadline) before closing them, so a request already on its way is
   * answered (with `Connection: close`) instead of meeting a closed
   * connection. Workers being recycled drain this way.
   *
   * @default {0}
   */
  idleGrace?: number;
}

/**
 * The former name of {@linkcode ServerShutdownOptions}.
 *
 * @deprecated Use {@linkcode ServerShutdownOptions} (lunet/signal has a
 * `ShutdownOptions` of its own); this alias goes in the next release.
 *
 * @example
 * ```ts
 * import type { ShutdownOptions } from "@lunet/lunet/http";
 * const opts: ShutdownOptions = { timeout: 5000 };
 * ```
 */
export type ShutdownOptions = ServerShutdownOptions;

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
  shutdown(opts?: ServerShutdownOptions): Promise<void>;
  /**
   * An HTTPS server serves new connections with this certificate from
   * now on; open connections keep theirs. Rejects with a `TypeError` on a
   * plain-HTTP server, and leaves the old certificate in force when the
   * new one cannot be read or loaded. Connections the kernel has queued
   * but the server not yet accepted at the instant of the switch are
   * reset unless `net.ipv4.tcp_migrate_req` is 1 (Linux moves them to the
   * new listener then).
   */
  setCertificates(certs: TlsServeOptions): Promise<void>;
}

/** The deadline (epoch ms) asked for by `opts`; 10 s from now by default. */
export function shutdownDeadline(opts: ServerShutdownOptions): number {
  return opts.deadline ?? Date.now() + (opts.timeout ?? 10_000);
}

/**
 * Registers `server`'s graceful shutdown with `onShutdown` (unless
 * `opts.shutdownOnSignal` is false) and with `opts.signal`, until the
 * server has finished.
 */
export function wireShutdown(server: Server, opts: BaseServeOptions): void {
  const signal = opts.signal;
  const hook = opts.shutdownOnSignal === false ? undefined : onShutdown(() => server.shutdown());
  const onAbort = () => server.shutdown();
  server.finished.then(() => {
    hook?.remove();
    signal?.removeEventListener("abort", onAbort);
  });
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
}

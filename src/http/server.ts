/**
 * `serve()`: an HTTP/1.1 server on lunet listeners. One task per
 * connection runs the handler; a sweeper enforces every timeout without a
 * timer per request; `shutdown()` drains gracefully, and is registered
 * with lunet/signal's `onShutdown` (unless `shutdownOnSignal: false`) so
 * SIGINT/SIGTERM drain it once `handleShutdownSignals()` is armed.
 * `serve({ workers: n })` runs the app in n workers sharing one port.
 *
 * @module
 */
import { spawn, type Task, whenSettled } from "../task.ts";
import { park } from "../_wait.ts";
import { ClosedError, TimeoutError } from "../errors.ts";
import { type Conn, listen, type Listener, type SocketAddr } from "../socket.ts";
import { acceptBackoff } from "../_accept_backoff.ts";
import { pauseAccept } from "../_listener.ts";
import {
  type BaseServeOptions,
  type Server,
  type ServerShutdownOptions,
  shutdownDeadline,
  wireShutdown,
} from "./lifecycle.ts";
import { supervise, type WorkersOptions, type WorkersServer } from "./workers.ts";
import { Connection, type ConnectionHost } from "./_connection.ts";
import { ReadArena } from "./_input.ts";
import { OutputPool } from "./_writer.ts";
import { type HttpLimits, resolveLimits } from "./limits.ts";
import type { HttpRequest } from "./request.ts";
import type { Reply } from "./response.ts";
import { Compression } from "./_compress.ts";
import type { Http2Service } from "./_h2_service.ts";
import { type Http2Config, resolveHttp2 } from "./_h2_options.ts";
import type { TlsListening, TlsServeOptions } from "./_tls_serve.ts";
import { wantsTls } from "./_tls_wanted.ts";

/**
 * A request handler. It runs inside the connection's task: lunet waits in
 * it are cancelled when the client goes away.
 *
 * @example
 * ```ts
 * import type { Handler } from "@lunet/lunet/http";
 * const hello: Handler = (req) => ({ hello: req.path });
 * ```
 */
export type Handler = (req: HttpRequest) => Reply | Promise<Reply>;

/**
 * Anything with a `handle` method, such as a {@linkcode Router}.
 *
 * @example
 * ```ts
 * import type { App } from "@lunet/lunet/http";
 * const app: App = { handle: () => "hi" };
 * ```
 */
export interface App {
  /** Handles one request. */
  handle(req: HttpRequest): Reply | Promise<Reply>;
}

/**
 * Options of {@linkcode serve}: those of every server (where to listen,
 * limits and timeouts, shutdown; see {@linkcode BaseServeOptions}), a Unix
 * path, port sharing and the error hook.
 *
 * @example
 * ```ts
 * import type { ServeOptions } from "@lunet/lunet/http";
 * const opts: ServeOptions = { port: 8080, maxBodyBytes: 1 << 20, idleTimeout: 10_000 };
 * ```
 */
export interface ServeOptions extends BaseServeOptions {
  /** A Unix socket path to listen on instead of TCP. */
  path?: string;
  /** Share the port with other listeners (SO_REUSEPORT; set in workers). */
  reusePort?: boolean;
  /** Reports a handler that threw (default: logged on stderr); the client gets 500. */
  onError?: (err: unknown, req: HttpRequest) => void;
  /**
   * HTTP/2 beside HTTP/1.1, with the same handler, limits and shutdown
   * (see docs/http2.md): `true` over TLS (ALPN offers `h2` and
   * `http/1.1`; needs `cert`/`key`), `"h2c"` in cleartext (a connection
   * opening with the HTTP/2 preface, or an `Upgrade: h2c` request). An
   * object does the same (`h2c: true` for cleartext) and sets the
   * SETTINGS announced and the defences' bounds; a value out of range is
   * a `TypeError`.
   *
   * @default {false}
   * @example
   * ```ts ignore
   * import { serve } from "@lunet/lunet/http";
   * await serve(() => "hi", { port: 8443, certFile: "cert.pem", keyFile: "key.pem", http2: true });
   * await serve(() => "hi", { port: 8080, http2: "h2c" });
   * await serve(() => "hi", {
   *   port: 8081,
   *   http2: { h2c: true, maxConcurrentStreams: 250, initialWindowSize: 1 << 20 },
   * });
   * ```
   */
  http2?: boolean | "h2c" | {
    /** Cleartext HTTP/2 too, as `"h2c"`. @default {false} */
    h2c?: boolean;
    /** Streams a client may open at once (SETTINGS_MAX_CONCURRENT_STREAMS); more get REFUSED_STREAM. @default {100} */
    maxConcurrentStreams?: number;
    /** Each stream's receive window (SETTINGS_INITIAL_WINDOW_SIZE), bytes. @default {262144} */
    initialWindowSize?: number;
    /** The connection's receive window, bytes (at least 65535). @default {1048576} */
    connectionWindowSize?: number;
    /** Largest header list (SETTINGS_MAX_HEADER_LIST_SIZE); a larger one gets 431. @default {maxHeaderBytes} */
    maxHeaderListSize?: number;
    /** RST_STREAM frames a client may send in a second before GOAWAY ENHANCE_YOUR_CALM. @default {200} */
    maxResetsPerSecond?: number;
    /** CONTINUATION frames one header block may take before GOAWAY ENHANCE_YOUR_CALM. @default {16} */
    maxContinuations?: number;
    /** SETTINGS, PING and empty frames (each) a client may send in a second before GOAWAY ENHANCE_YOUR_CALM. @default {100} */
    maxControlFramesPerSecond?: number;
  };
}

/** The server of one listener. */
class HttpServer implements Server, ConnectionHost {
  readonly addr: SocketAddr;
  handler: Handler;
  limits: HttpLimits;
  draining = false;
  lingering = false;
  onError: (err: unknown, req: HttpRequest) => void;
  readonly arena: ReadArena = new ReadArena();
  readonly outputs: OutputPool = new OutputPool();
  readonly compression: Compression | null;
  readonly http2: Http2Service | undefined;
  #tls: TlsListening | undefined;
  #listener: Listener;
  #conns = new Set<Connection>();
  #accepting: Task<void>;
  #sweeper: ReturnType<typeof setInterval>;
  #emptied: (() => void) | null = null;
  #shutdown: Promise<void> | null = null;
  #finished: () => void = () => {};
  readonly finished: Promise<void>;

  constructor(
    listener: Listener,
    handler: Handler,
    opts: ServeOptions,
    compression: Compression | null,
    tls: TlsListening | undefined,
    http2: { config: Http2Config; Service: typeof Http2Service } | undefined,
  ) {
    this.#tls = tls;
    this.#listener = listener;
    this.addr = listener.addr;
    this.limits = resolveLimits(opts);
    this.http2 = http2 && new http2.Service(this, http2.config);
    this.handler = this.http2?.cleartext && tls === undefined
      ? this.http2!.upgrading(handler)
      : handler;
    this.onError = opts.onError ?? defaultOnError;
    this.compression = compression;
    this.finished = new Promise((resolve) => this.#finished = resolve);
    const l = this.limits;
    const shortest = Math.min(
      l.headerTimeout,
      l.idleTimeout,
      l.bodyTimeout,
      l.responseTimeout,
      l.drainTimeout,
    );
    const every = Math.max(10, Math.min(1000, Math.floor(shortest / 4)));
    this.#sweeper = setInterval(this.#sweep, every);
    this.#accepting = spawn(() => this.#acceptLoop(), { name: `http accept ${fmt(this.addr)}` });
    wireShutdown(this, opts);
  }

  get connections(): number {
    return this.#conns.size;
  }

  setCertificates(certs: TlsServeOptions): Promise<void> {
    if (this.#tls === undefined) {
      return Promise.reject(new TypeError("http: setCertificates on a server without TLS"));
    }
    return this.#tls.setCertificates(certs);
  }

  #sweep = (): void => {
    const now = Date.now();
    for (const c of this.#conns) c.tick(now);
  };

  // Accepts until the listener closes. A failed accept (out of
  // descriptors, most often) is reported on one short line at most once a
  // second, and accepting resumes after a pause that doubles while the
  // failures last.
  async #acceptLoop(): Promise<void> {
    const listener = this.#listener;
    const log = new FailureLog();
    let failures = 0;
    for (;;) {
      let conn: Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (listener.closed || err instanceof ClosedError) return;
        const pause = acceptBackoff(++failures);
        log.report(err, `accepting again in ${pause} ms`);
        try {
          await pauseAccept(listener, pause);
        } catch (paused) {
          if (listener.closed) return;
          throw paused;
        }
        continue;
      }
      failures = 0;
      this.#start(conn);
    }
  }

  #start(conn: Conn): void {
    if (conn.peer.transport === "tcp") conn.setNoDelay(true);
    const c = new Connection(conn, this);
    this.#conns.add(c);
    const task = spawn((t: Task<void>) => c.run(t), { name: "http connection" });
    whenSettled(task, () => this.#ended(c));
  }

  #ended(c: Connection): void {
    this.#conns.delete(c);
    if (this.#conns.size === 0) this.#emptied?.();
  }

  shutdown(opts: ServerShutdownOptions = {}): Promise<void> {
    return this.#shutdown ??= this.#drain(shutdownDeadline(opts), opts.idleGrace ?? 0);
  }

  async #drain(deadline: number, idleGrace: number): Promise<void> {
    // Responses from now on say `Connection: close`, except on a worker
    // being recycled (idleGrace): there only once the listener has left
    // the port, so a client told to reconnect does not find it still open
    // (the deno backend's socket closes when its accept ends).
    if (idleGrace === 0) this.draining = true;
    this.#listener.close();
    await this.#accepting.then(undefined, () => {});
    this.lingering = idleGrace > 0;
    this.draining = true;
    if (idleGrace > 0) {
      await this.#allEnded(Math.min(deadline, Date.now() + idleGrace)).catch((err) => {
        if (!(err instanceof TimeoutError)) throw err;
      });
    }
    this.lingering = false;
    for (const c of this.#conns) c.closeIfIdle();
    this.http2?.drain();
    try {
      await this.#allEnded(deadline);
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err;
      for (const c of this.#conns) c.abort();
      await this.#allEnded(undefined);
    } finally {
      clearInterval(this.#sweeper);
      this.#finished();
    }
  }

  #allEnded(deadline: number | undefined): Promise<void> {
    return park<void>(
      "http shutdown",
      deadline === undefined ? undefined : { deadline },
      (resolve) => {
        if (this.#conns.size === 0) return resolve();
        this.#emptied = resolve;
        return () => this.#emptied = null;
      },
    );
  }
}

const REPORT_EVERY = 1000;

// Reports failures on stderr, one short line (message and code, never
// the stack: formatting one may itself fail while descriptors are short)
// at most once per REPORT_EVERY ms, with the count of those left out.
class FailureLog {
  #last = -Infinity;
  #skipped = 0;

  report(err: unknown, next: string): void {
    const now = Date.now();
    if (now - this.#last < REPORT_EVERY) {
      this.#skipped++;
      return;
    }
    const skipped = this.#skipped > 0 ? ` (${this.#skipped} more since the last report)` : "";
    this.#last = now;
    this.#skipped = 0;
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown } | null)?.code;
    const tag = typeof code === "string" ? ` (${code})` : "";
    console.error(`lunet/http: ${message}${tag}${skipped}; ${next}`);
  }
}

function fmt(addr: SocketAddr): string {
  return addr.transport === "unix" ? `unix:${addr.path}` : `${addr.hostname}:${addr.port}`;
}

function defaultOnError(err: unknown, req: HttpRequest): void {
  console.error(`lunet/http: handler failed for ${req.method} ${req.target}:`, err);
}

/**
 * Starts an HTTP/1.1 server on `127.0.0.1:8000` (or `opts.host`,
 * `opts.port`, `opts.path`) and returns once it listens. `app` is a
 * handler function or an {@linkcode App} such as a {@linkcode Router}.
 * Every connection is served by one task that runs the handler; the
 * response is whatever the handler returns (see {@linkcode Reply}).
 *
 * The server's graceful shutdown is registered with lunet/signal's
 * `onShutdown`: after `handleShutdownSignals()`, SIGINT or SIGTERM drains
 * it (in-flight requests finish) before the process exits. Pass
 * `shutdownOnSignal: false` to leave it out and shut it down yourself.
 *
 * @example One thread
 * ```ts
 * import { json, serve } from "@lunet/lunet/http";
 * const server = await serve((req) => json({ message: "hello", path: req.path }), { port: 0 });
 * console.log(`listening on ${server.addr.port}`);
 * await server.shutdown();
 * ```
 *
 * @example Drained on SIGINT/SIGTERM
 * ```ts ignore
 * import { serve } from "@lunet/lunet/http";
 * import { handleShutdownSignals } from "@lunet/lunet/signal";
 * await serve(() => ({ ok: true }), { port: 8080 });
 * handleShutdownSignals({ timeout: 5000 });
 * ```
 */
export function serve(app: Handler | App, opts?: ServeOptions): Promise<Server>;
/**
 * Multi-core: `opts.workers` Web Workers each import `opts.module` (default:
 * the main module) and serve its default export (a handler or an
 * {@linkcode App}) on one shared port (SO_REUSEPORT, Linux). Resolves once
 * every worker listens; `shutdown()` drains them all. A supervisor
 * replaces workers that die and enforces the limits asked for; see
 * {@linkcode WorkersOptions} and `supervise()`.
 *
 * @example Two workers (app.ts, run as the main module)
 * ```ts ignore
 * import { Router, serve } from "@lunet/lunet/http";
 * const app = new Router().get("/", () => ({ hello: "world" }));
 * export default app;
 * if (import.meta.main) await serve({ workers: 2, port: 8080 });
 * ```
 */
export function serve(opts: WorkersOptions): Promise<WorkersServer>;
export async function serve(
  app: Handler | App | WorkersOptions,
  opts: ServeOptions = {},
): Promise<Server> {
  if (typeof app !== "function" && typeof (app as App | null)?.handle !== "function") {
    if (typeof app !== "object" || app === null || !("workers" in app)) {
      throw new TypeError(
        `http: serve() takes a handler function, an App (an object with handle()) or ` +
          `{ workers, module }, got ${app === null ? "null" : typeof app}`,
      );
    }
    return await supervise(app as WorkersOptions);
  }
  if ("workers" in opts) {
    throw new TypeError(
      "http: with `workers`, call serve({ workers, module }) without an app: " +
        "the workers serve the module's default export",
    );
  }
  const handler: Handler = typeof app === "function" ? app : (req) => (app as App).handle(req);
  const limits = resolveLimits(opts);
  const compression = Compression.of(opts.compress);
  let tls: TlsListening | undefined;
  const http2 = resolveHttp2(opts.http2, limits.maxHeaderBytes);
  if (http2 !== null && !http2.cleartext && !wantsTls(opts)) {
    throw new TypeError(
      'http: http2 without h2c needs cert and key (HTTP/2 over TLS); use http2: "h2c" for cleartext',
    );
  }
  // HTTP/2 and TLS are loaded only by the servers that use them.
  const h2 = http2 === null
    ? undefined
    : { config: http2, Service: (await import("./_h2_service.ts")).Http2Service };
  if (wantsTls(opts)) {
    if (opts.path !== undefined) throw new TypeError("http: HTTPS is served over TCP, not `path`");
    const { listenHttps } = await import("./_tls_serve.ts");
    tls = await listenHttps(opts, {
      host: opts.host ?? "127.0.0.1",
      port: opts.port ?? 8000,
      dangerouslyAllowPublic: opts.dangerouslyAllowPublic,
      handshakeTimeout: limits.headerTimeout,
      http2: http2 !== null,
    });
  }
  const listener = tls !== undefined
    ? tls.listener
    : opts.path !== undefined
    ? await listen("unix", opts.path, undefined, { backlog: opts.backlog })
    : await listen("tcp", opts.host ?? "127.0.0.1", opts.port ?? 8000, {
      dangerouslyAllowPublic: opts.dangerouslyAllowPublic,
      reusePort: opts.reusePort,
      backlog: opts.backlog,
    });
  return new HttpServer(listener, handler, opts, compression, tls, h2);
}

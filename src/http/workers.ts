/**
 * Multi-core serving: {@linkcode serveWorkers} starts n Web Workers; each
 * imports the app module, serves its default export on the same port with
 * SO_REUSEPORT (Linux), and the kernel spreads connections over them. The
 * main thread only supervises: it picks the port when 0 is asked for,
 * forwards a graceful shutdown to every worker and terminates them once
 * they have drained.
 *
 * @module
 */
import { TimeoutError } from "../errors.ts";
import { park } from "../_wait.ts";
import { listen, type Listener, type SocketAddr, type TcpAddr } from "../socket.ts";
import { traceClose, traceOpen } from "../trace.ts";
import { type HttpLimits, resolveLimits } from "./limits.ts";
import {
  type BaseServeOptions,
  type Server,
  type ServerShutdownOptions,
  shutdownDeadline,
  wireShutdown,
} from "./lifecycle.ts";
import type { CompressOptions } from "./_compress.ts";
import { checkCertificate, loadCertificate, type TlsServeOptions, wantsTls } from "./_tls_serve.ts";

/**
 * Options of `serve({ workers })`: those of every server (where to
 * listen, limits and timeouts, shutdown; see {@linkcode BaseServeOptions}),
 * the number of workers and the module whose default export (a handler or
 * an `App` such as a `Router`) they serve.
 *
 * @example
 * ```ts
 * import type { WorkersOptions } from "@lunet/lunet/http";
 * const opts: WorkersOptions = { workers: 2, port: 8080, module: import.meta.url };
 * ```
 */
export interface WorkersOptions extends BaseServeOptions {
  /** How many workers serve the port (at least 1). */
  workers: number;
  /**
   * The module whose default export is the app (default: the main
   * module). Guard its own `serve({ workers })` call with
   * `if (import.meta.main)`, since every worker imports it.
   */
  module?: string | URL;
}

/** What the main thread sends a worker. */
export type ToWorker =
  | { type: "start"; module: string; options: WorkerServeOptions }
  | { type: "shutdown"; deadline: number }
  | { type: "certificates"; cert: string; key: string };

/** What a worker sends the main thread. */
export type FromWorker =
  | { type: "listening" }
  | { type: "connections"; count: number }
  | { type: "failed"; message: string }
  | { type: "finished" };

/** The structured-cloneable options a worker serves with. */
export interface WorkerServeOptions extends HttpLimits {
  /** Host to bind. */
  host: string;
  /** The shared port. */
  port: number;
  /** Allow a non-loopback host. */
  dangerouslyAllowPublic?: boolean;
  /** Listen backlog. */
  backlog?: number;
  /** HTTPS certificate chain and key, PEM. */
  cert?: string;
  key?: string;
  /** Response compression (without a `types` function, which cannot be cloned). */
  compress?: boolean | CompressOptions;
}

/** Set on `globalThis` inside an HTTP worker. */
export const IN_WORKER: unique symbol = Symbol.for("lunet.http.worker") as never;

/** Time given to workers past the shutdown deadline before they are terminated. */
const GRACE_MS = 1000;
const STARTING = 0, LISTENING = 1, ENDED = 2;
const WORKER_URL = new URL("./worker.ts", import.meta.url);

interface Slot {
  name: string;
  worker: Worker;
  state: number;
  connections: number;
  trace: number;
}

/** The workers of one `serve({ workers })` call. */
class WorkerPool implements Server {
  readonly addr: SocketAddr;
  readonly finished: Promise<void>;
  #slots: Slot[] = [];
  #changed: (() => void) | null = null;
  #failure: Error | undefined;
  #draining = false;
  #shutdown: Promise<void> | null = null;
  #finished: () => void = () => {};
  #tls: boolean;

  constructor(addr: SocketAddr, count: number, module: string, options: WorkerServeOptions) {
    this.addr = addr;
    this.#tls = options.cert !== undefined;
    this.finished = new Promise((resolve) => this.#finished = resolve);
    for (let i = 0; i < count; i++) {
      const name = `lunet/http worker ${i + 1}`;
      const worker = new Worker(WORKER_URL, { type: "module", name });
      const slot: Slot = {
        name,
        worker,
        state: STARTING,
        connections: 0,
        trace: traceOpen("worker", name),
      };
      this.#slots.push(slot);
      worker.onmessage = (e: MessageEvent<FromWorker>) => this.#message(slot, e.data);
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        this.#fail(slot, e.message);
      };
      worker.postMessage({ type: "start", module, options } satisfies ToWorker);
    }
  }

  get connections(): number {
    let n = 0;
    for (const slot of this.#slots) n += slot.connections;
    return n;
  }

  #message(slot: Slot, msg: FromWorker): void {
    if (msg.type === "connections") {
      slot.connections = msg.count;
      return;
    }
    if (msg.type === "listening") slot.state = LISTENING;
    else if (msg.type === "failed") this.#fail(slot, msg.message);
    else this.#end(slot);
    this.#changed?.();
  }

  #fail(slot: Slot, message: string): void {
    const err = new Error(`${slot.name}: ${message}`);
    if (slot.state === STARTING) this.#failure ??= err;
    else if (!this.#draining) console.error("lunet/http:", err.message);
    this.#end(slot);
    this.#changed?.();
  }

  #end(slot: Slot): void {
    if (slot.state === ENDED) return;
    slot.state = ENDED;
    slot.connections = 0;
    slot.worker.terminate();
    traceClose("worker", slot.trace);
    if (this.#slots.every((s) => s.state === ENDED)) this.#finished();
  }

  // Waits until `done()` holds, re-checked whenever a worker reports.
  #until(what: string, done: () => boolean, deadline?: number): Promise<void> {
    return park<void>(what, deadline === undefined ? undefined : { deadline }, (resolve) => {
      if (done()) return resolve();
      this.#changed = () => {
        if (!done()) return;
        this.#changed = null;
        resolve();
      };
      return () => this.#changed = null;
    });
  }

  /** Resolves once every worker listens; rejects (all ended) if one fails. */
  async started(): Promise<void> {
    try {
      await this.#until(
        "http workers start",
        () => this.#failure !== undefined || this.#slots.every((s) => s.state === LISTENING),
      );
    } finally {
      if (this.#failure !== undefined || this.#slots.some((s) => s.state !== LISTENING)) {
        for (const slot of this.#slots) this.#end(slot);
      }
    }
    if (this.#failure) throw this.#failure;
  }

  shutdown(opts: ServerShutdownOptions = {}): Promise<void> {
    return this.#shutdown ??= this.#drain(shutdownDeadline(opts));
  }

  async setCertificates(certs: TlsServeOptions): Promise<void> {
    if (!this.#tls) throw new TypeError("http: setCertificates on a server without TLS");
    const pair = await loadCertificate(certs);
    checkCertificate(pair);
    for (const slot of this.#slots) {
      if (slot.state === LISTENING) {
        slot.worker.postMessage({ type: "certificates", ...pair } satisfies ToWorker);
      }
    }
  }

  async #drain(deadline: number): Promise<void> {
    this.#draining = true;
    for (const slot of this.#slots) {
      if (slot.state !== ENDED) {
        slot.worker.postMessage({ type: "shutdown", deadline } satisfies ToWorker);
      }
    }
    try {
      await this.#until(
        "http workers shutdown",
        () => this.#slots.every((s) => s.state === ENDED),
        deadline + GRACE_MS,
      );
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err;
    } finally {
      for (const slot of this.#slots) this.#end(slot);
    }
  }
}

/**
 * Serves the default export of `opts.module` (by default the main module)
 * in `opts.workers` Web Workers sharing one port. Resolves once every
 * worker listens; `shutdown()` drains them all. Called through
 * `serve({ workers })`.
 *
 * @example
 * ```ts ignore
 * // app.ts — run with: deno run -A app.ts
 * import { Router, serve } from "@lunet/lunet/http";
 * const app = new Router().get("/", () => ({ hello: "world" }));
 * export default app;
 * if (import.meta.main) await serve({ workers: 2, port: 8080 });
 * ```
 */
export async function serveWorkers(opts: WorkersOptions): Promise<Server> {
  const count = opts.workers;
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`http: workers must be a positive integer, got ${count}`);
  }
  if ((globalThis as Record<symbol, unknown>)[IN_WORKER]) {
    throw new Error(
      "http: serve({ workers }) called inside an http worker; " +
        "guard the call with `if (import.meta.main)` in the app module",
    );
  }
  if ("path" in opts) {
    throw new TypeError("http: workers share a TCP port; `path` is not supported");
  }
  const limits = resolveLimits(opts);
  if (typeof opts.compress === "object" && opts.compress.types !== undefined) {
    throw new TypeError(
      "http: with workers, compress.types cannot be given (a function is not cloned)",
    );
  }
  const tls = wantsTls(opts) ? await loadCertificate(opts) : undefined;
  const host = opts.host ?? "127.0.0.1";
  let port = opts.port ?? 8000;
  // Port 0: hold a port for the workers until they all listen on it too.
  let probe: Listener<TcpAddr> | undefined;
  if (port === 0) {
    probe = await listen("tcp", host, 0, {
      reusePort: true,
      dangerouslyAllowPublic: opts.dangerouslyAllowPublic,
      backend: "deno",
    });
    port = probe.addr.port;
  }
  const module = String(opts.module ?? Deno.mainModule);
  const options: WorkerServeOptions = {
    ...limits,
    host,
    port,
    dangerouslyAllowPublic: opts.dangerouslyAllowPublic,
    backlog: opts.backlog,
    ...tls,
    compress: opts.compress,
  };
  const pool = new WorkerPool({ transport: "tcp", hostname: host, port }, count, module, options);
  try {
    await pool.started();
  } finally {
    probe?.close();
  }
  wireShutdown(pool, opts);
  return pool;
}

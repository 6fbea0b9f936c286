/**
 * Multi-core serving that stays up: {@linkcode supervise} (what
 * `serve({ workers })` calls) starts n workers that each import the app
 * module and serve its default export on one port with SO_REUSEPORT
 * (Linux); the kernel spreads connections over them. The supervisor
 * replaces a worker that dies, bounds each one (request time, memory,
 * request count), restarts them all on SIGHUP without losing a request,
 * runs interval handlers ({@linkcode every}) in one worker, reports on
 * every worker ({@linkcode WorkersServer.workers}) and holds the shared
 * dictionaries of lunet/shared.
 *
 * Two isolation modes:
 *
 * - `"thread"`: Web Workers in this process. Cheap and fast, but a worker
 *   that runs out of memory takes the whole process down, and a
 *   synchronous loop cannot be stopped (Deno's `Worker.terminate()` does
 *   not interrupt one, measured on Deno 2.9.6: the thread spins on and
 *   keeps its listener); a thread worker that throws, calls `Deno.exit()`
 *   (made to throw there, so the worker can close its sockets first) or
 *   whose handler outlives the time limit while awaiting is replaced.
 * - `"process"`: child `deno` processes (Moonbridge's pre-fork model).
 *   Only this mode contains a worker that runs out of memory, loops
 *   forever or is killed: the kernel reclaims it and the others go on.
 *   It is the default whenever a limit is asked for (`requestTimeLimit`,
 *   `maxHeapBytes`, `maxRssBytes`). The supervisor talks to them over a
 *   Unix socket in a temp directory of its own, removed at shutdown (arm
 *   lunet/signal's `handleShutdownSignals()` so SIGTERM drains the server
 *   and removes it); a worker whose supervisor is gone exits.
 *
 * @module
 */
import { type IntervalHandle, intervalHost } from "./_intervals.ts";
import type { BaseServeOptions, Server } from "./lifecycle.ts";
import { runtime } from "./_worker_protocol.ts";

/**
 * Sizes of one shared dictionary (see lunet/shared).
 *
 * @example
 * ```ts
 * import type { SharedDictOptions } from "@lunet/lunet/http";
 * const counters: SharedDictOptions = { capacity: 100, maxValueBytes: 32 };
 * ```
 */
export interface SharedDictOptions {
  /** Most entries held; a new key past it evicts one. @default {1024} */
  capacity?: number;
  /** Longest key in UTF-8 bytes. @default {128} */
  maxKeyBytes?: number;
  /** Longest string or byte value. @default {1024} */
  maxValueBytes?: number;
}

/**
 * How the supervisor isolates, bounds and recycles workers.
 *
 * @example
 * ```ts
 * import type { SupervisionOptions } from "@lunet/lunet/http";
 * const opts: SupervisionOptions = {
 *   isolation: "process",
 *   requestTimeLimit: 2000,
 *   maxHeapBytes: 256 << 20,
 *   maxRequestsPerWorker: 100_000,
 * };
 * ```
 */
export interface SupervisionOptions {
  /**
   * `"process"` (child `deno` processes; contains crashes, out-of-memory
   * and endless loops) or `"thread"` (Web Workers; see the module doc).
   *
   * @default {"process" with a limit (requestTimeLimit, maxHeapBytes, maxRssBytes), else "thread"}
   */
  isolation?: "thread" | "process";
  /**
   * A handler that runs longer (ms) ends its worker, which is replaced;
   * so does a worker whose event loop is blocked that long (a synchronous
   * loop). In process mode on Linux, with `--allow-ffi` for the
   * supervisor, every request that worker held (the stuck one and the
   * others in flight) is answered `503` with `Connection: close`, and its
   * idle connections are closed; otherwise its connections are reset as
   * it dies. A thread worker whose handler awaits past the limit closes
   * its connections itself (no 503); one stuck in a synchronous loop
   * cannot be stopped (see the module doc). A handler moves its own
   * deadline with {@linkcode watchdog}.
   */
  requestTimeLimit?: number;
  /** Recycle a worker whose V8 heap in use grows past this (bytes). */
  maxHeapBytes?: number;
  /** Recycle a worker process whose resident set grows past this (bytes; process mode). */
  maxRssBytes?: number;
  /** Recycle a worker once it has served this many requests. */
  maxRequestsPerWorker?: number;
  /** Time a recycled worker has to drain (ms). @default {10000} */
  recycleTimeout?: number;
  /** Answer `GET` on this path (e.g. `"/_status"`) in every worker with the supervisor's view as JSON. */
  statusPath?: string;
  /**
   * `deno run` permission flags for process workers (e.g.
   * `["--allow-net=127.0.0.1", "--allow-read"]`). By default every
   * permission this process holds without a list is passed on
   * (`--allow-net`, `--allow-read`, …); a worker needs net for its port,
   * read for the app module, and read and write on the supervisor's
   * socket directory (under the temp dir). The supervisor itself needs
   * `--allow-run` to start them (and `--allow-ffi` to answer the requests
   * of an ended worker with 503).
   */
  permissions?: string[];
  /** Extra `deno run` flags for process workers (e.g. `["--v8-flags=--max-old-space-size=512"]`). */
  denoFlags?: string[];
  /** Shared dictionaries by name (lunet/shared's `shared(name)`); `"default"` always exists. */
  shared?: Record<string, SharedDictOptions>;
  /** The signal that starts a rolling restart; `null` for none. @default {"SIGHUP"} */
  reloadSignal?: Deno.Signal | null;
}

/**
 * Options of `serve({ workers })`: those of every server (see
 * {@linkcode BaseServeOptions}), the supervision (see
 * {@linkcode SupervisionOptions}), the number of workers and the module
 * whose default export (a handler or an `App` such as a `Router`) they
 * serve.
 *
 * @example
 * ```ts
 * import type { WorkersOptions } from "@lunet/lunet/http";
 * const opts: WorkersOptions = { workers: 2, port: 8080, module: import.meta.url };
 * ```
 */
export interface WorkersOptions extends BaseServeOptions, SupervisionOptions {
  /** How many workers serve the port (at least 1). */
  workers: number;
  /**
   * The module whose default export is the app (default: the main
   * module). Guard its own `serve({ workers })` call with
   * `if (import.meta.main)`, since every worker imports it.
   */
  module?: string | URL;
}

/**
 * The supervisor's view of one worker.
 *
 * @example
 * ```ts
 * import type { WorkerInfo } from "@lunet/lunet/http";
 * const busy = (w: WorkerInfo) => w.connections > 100;
 * ```
 */
export interface WorkerInfo {
  /** Unique within the server, never reused. */
  id: number;
  /** Its process id (the supervisor's own for a thread worker). */
  pid: number;
  /** How it is isolated. */
  isolation: "thread" | "process";
  /** `"starting"`, `"listening"` or `"draining"`. */
  state: "starting" | "listening" | "draining";
  /** Whether it runs the interval handlers meant for one worker. */
  leader: boolean;
  /** When it started listening (epoch ms). */
  startedAt: number;
  /** Time since then (ms). */
  uptimeMs: number;
  /** Requests it has served (as of its last report, ≤ 100 ms old). */
  requests: number;
  /** Its open connections. */
  connections: number;
  /** Its V8 heap in use (bytes). */
  heapBytes: number;
  /** The resident set of its process (bytes; for a thread, the whole process). */
  rssBytes: number;
}

/**
 * The server `serve({ workers })` returns.
 *
 * @example
 * ```ts ignore
 * import { serve } from "@lunet/lunet/http";
 * const server = await serve({ workers: 2, port: 0, module: "./app.ts" });
 * console.log(server.workers().map((w) => w.pid));
 * await server.restart(); // new workers up, then the old ones drain
 * await server.shutdown();
 * ```
 */
export interface WorkersServer extends Server {
  /** The supervisor's view of every worker. */
  workers(): WorkerInfo[];
  /**
   * Rolling restart: new workers start, then the old ones drain (what
   * SIGHUP does). Workers share the port with SO_REUSEPORT: with process
   * isolation, connections the kernel queued on an old worker's listener
   * but that worker had not accepted when it closed are reset unless
   * `net.ipv4.tcp_migrate_req` is 1 (Linux then moves them to a listener
   * that stays).
   */
  restart(): Promise<void>;
}

/**
 * Options of {@linkcode every}.
 *
 * @example
 * ```ts
 * import type { EveryOptions } from "@lunet/lunet/http";
 * const opts: EveryOptions = { each: true, name: "flush metrics" };
 * ```
 */
export interface EveryOptions {
  /** Run in every worker instead of exactly one. @default {false} */
  each?: boolean;
  /** A name for error reports. */
  name?: string;
}

/**
 * Serves the default export of `opts.module` (by default the main module)
 * in `opts.workers` supervised workers sharing one port (what
 * `serve({ workers })` calls). Resolves once every worker listens;
 * rejects if one fails to start. `shutdown()` drains them all.
 *
 * @example
 * ```ts ignore
 * // app.ts — run with: deno run -A app.ts
 * import { Router, supervise } from "@lunet/lunet/http";
 * const app = new Router().get("/", () => ({ hello: "world" }));
 * export default app;
 * if (import.meta.main) {
 *   const server = await supervise({ workers: 2, port: 8080, isolation: "process" });
 *   console.log(server.workers().length); // 2
 * }
 * ```
 */
export async function supervise(opts: WorkersOptions): Promise<WorkersServer> {
  // The supervisor and what it holds load with the first call.
  return await (await import("./_supervise.ts")).startWorkers(opts);
}

/** The former name of {@linkcode supervise}, which `serve({ workers })` calls. */
export const serveWorkers: (opts: WorkersOptions) => Promise<WorkersServer> = supervise;

/**
 * Runs `fn` every `ms` milliseconds in exactly one worker of the server
 * (or in each, with `each: true`), as a lunet task; a run still going at
 * the next tick skips that tick. Errors are reported on stderr, never
 * fatal. Call it at the top level of the app module: every worker
 * registers it, the supervisor names the one that runs it (another takes
 * over when that one goes), and shutdown cancels it. Outside a worker it
 * runs in this thread until cancelled or lunet/signal's `shutdown()`;
 * the handlers the supervising thread registered before
 * `serve({ workers })` (the app module's, run as the main module) are
 * left to the workers: they stop running in this thread.
 *
 * @example
 * ```ts
 * import { every } from "@lunet/lunet/http";
 * let ticks = 0;
 * const job = every(5, () => void ticks++, { name: "tick" });
 * await new Promise((r) => setTimeout(r, 40));
 * job.cancel();
 * if (ticks === 0) throw new Error("the handler ran");
 * ```
 */
export function every(ms: number, fn: () => unknown, opts: EveryOptions = {}): IntervalHandle {
  if (!(typeof ms === "number" && ms > 0)) {
    throw new RangeError(`http: every(ms) needs ms > 0, got ${ms}`);
  }
  return intervalHost().add(ms, fn, opts.each ?? false, opts.name ?? (fn.name || "handler"));
}

export type { IntervalHandle };

/**
 * Resets the time limit of the request the caller is handling: its
 * deadline becomes `ms` (default: `requestTimeLimit`) from now, for a
 * long job that keeps yielding. Returns `false` (and does nothing) outside
 * a handler or without a `requestTimeLimit`. It cannot rescue a
 * synchronous stretch longer than the limit: the supervisor hears nothing
 * from a blocked worker and ends it.
 *
 * @example
 * ```ts
 * import { watchdog } from "@lunet/lunet/http";
 * if (watchdog(60_000)) console.log("a minute more for this request");
 * ```
 */
export function watchdog(ms?: number): boolean {
  return runtime()?.watchdog(ms) ?? false;
}

/**
 * The worker this code runs in (`{ id, isolation }`), or `undefined`
 * outside a worker of `serve({ workers })`.
 *
 * @example
 * ```ts
 * import { currentWorker } from "@lunet/lunet/http";
 * const who = currentWorker()?.id ?? "main";
 * console.log(`served by ${who}`);
 * ```
 */
export function currentWorker(): { id: number; isolation: "thread" | "process" } | undefined {
  const config = runtime()?.config;
  return config && { id: config.id, isolation: config.isolation };
}

/**
 * Asks the supervisor for its view of every worker, from inside one
 * (outside a worker: an empty list).
 *
 * @example
 * ```ts
 * import { workerStatus } from "@lunet/lunet/http";
 * const workers = await workerStatus();
 * console.log(workers.length);
 * ```
 */
export async function workerStatus(): Promise<WorkerInfo[]> {
  return await (runtime()?.status() ?? Promise.resolve([]));
}

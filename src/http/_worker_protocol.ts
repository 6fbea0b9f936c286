/**
 * The messages between a supervisor and its HTTP workers, the same for
 * thread workers (`postMessage`) and process workers (JSON frames on a
 * Unix socket), and the way to the runtime of the worker code runs in.
 *
 * @module
 */
import type { HttpLimits } from "./limits.ts";
import type { CompressOptions } from "./_compress.ts";
import type { SharedSetup } from "../shared/_store.ts";
import type { WorkerInfo } from "./workers.ts";
import type { WorkerRuntime } from "./_worker_runtime.ts";

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
  /** The key of `cert`, PEM. */
  key?: string;
  /** Response compression (without a `types` function, which cannot be cloned). */
  compress?: boolean | CompressOptions;
}

/** Everything a worker starts with. */
export interface WorkerConfig {
  /** The worker's id (unique within its supervisor, never reused). */
  id: number;
  /** `"thread"` or `"process"`. */
  isolation: "thread" | "process";
  /** The app module. */
  module: string;
  /** How it serves. */
  options: WorkerServeOptions;
  /** How often it reports (ms). */
  beatMs: number;
  /** The per-request time limit (ms), if any. */
  requestTimeLimit?: number;
  /** Answer `GET <statusPath>` with the supervisor's view. */
  statusPath?: string;
  /** Its server's shared dictionaries. */
  shared: SharedSetup;
}

/** What a supervisor sends a worker. */
export type ToWorker =
  | { type: "start"; config: WorkerConfig }
  | { type: "shutdown"; deadline: number; idleGrace?: number }
  | { type: "leader"; on: boolean }
  | { type: "certificates"; cert: string; key: string }
  | { type: "status"; ask: number; workers: WorkerInfo[] };

/** What a worker reports every `beatMs`. */
export interface Beat {
  type: "beat";
  /** Open connections. */
  connections: number;
  /** Requests served so far. */
  requests: number;
  /** V8 heap in use plus the memory of its array buffers (bytes). */
  heapBytes: number;
  /** Resident set of the worker's process (bytes; the whole process for a thread). */
  rssBytes: number;
  /** The earliest deadline of a request in flight (epoch ms), or 0. */
  due: number;
  /** The client ports of the requests in flight (with a time limit). */
  held: number[];
}

/** What a worker sends its supervisor. */
export type FromWorker =
  | { type: "hello"; id: number; pid: number }
  | { type: "listening"; pid: number }
  | Beat
  | { type: "failed"; message: string }
  | { type: "report"; message: string }
  | { type: "crashed"; message: string }
  | { type: "status?"; ask: number }
  | { type: "finished" };

/** Set on `globalThis` inside an HTTP worker: the worker's runtime. */
export const IN_WORKER: unique symbol = Symbol.for("lunet.http.worker") as never;

/** The runtime of the worker this code runs in, if any. */
export function runtime(): WorkerRuntime | undefined {
  return (globalThis as Record<symbol, unknown>)[IN_WORKER] as WorkerRuntime | undefined;
}

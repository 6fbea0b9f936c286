/**
 * What {@linkcode supervise} of `./workers.ts` does, loaded with its first
 * call: checks the options, holds the port when it is 0, and starts the
 * supervisor with the flags and shared dictionaries the workers get.
 *
 * @module
 */
import { listen, type Listener, type TcpAddr } from "../socket.ts";
import { handOverIntervals } from "./_intervals.ts";
import { wireShutdown } from "./lifecycle.ts";
import { resolveLimits } from "./limits.ts";
import { Supervisor } from "./_supervisor.ts";
import { IN_WORKER } from "./_worker_protocol.ts";
import { DEFAULT_SIZES } from "../shared/_store.ts";
import type { TableSizes } from "../shared/_table.ts";
import { loadCertificate } from "./_tls_serve.ts";
import { wantsTls } from "./_tls_wanted.ts";
import type { SharedDictOptions, WorkersOptions, WorkersServer } from "./workers.ts";

// Permissions granted without a list, as `deno run` flags.
function inheritedPermissions(): string[] {
  const names = ["read", "write", "net", "env", "run", "ffi", "sys", "import"] as const;
  const flags: string[] = [];
  for (const name of names) {
    try {
      if (Deno.permissions.querySync({ name } as Deno.PermissionDescriptor).state === "granted") {
        flags.push(`--allow-${name}`);
      }
    } catch {
      // a permission this Deno does not know
    }
  }
  return flags;
}

function sizes(opts: SharedDictOptions = {}): TableSizes {
  return { ...DEFAULT_SIZES, ...opts };
}

/**
 * Starts `opts.workers` supervised workers serving `opts.module` and
 * resolves once every one listens (see {@linkcode supervise} of
 * `./workers.ts`, which documents the options).
 *
 * @example
 * ```ts ignore
 * import { startWorkers } from "./_supervise.ts";
 * const server = await startWorkers({ workers: 2, port: 0, module: "./app.ts" });
 * await server.shutdown();
 * ```
 */
export async function startWorkers(opts: WorkersOptions): Promise<WorkersServer> {
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
  const limited = opts.requestTimeLimit !== undefined || opts.maxHeapBytes !== undefined ||
    opts.maxRssBytes !== undefined;
  const isolation = opts.isolation ?? (limited ? "process" : "thread");
  if (isolation !== "thread" && isolation !== "process") {
    throw new TypeError(`http: isolation is "thread" or "process", got ${isolation}`);
  }
  if (isolation === "thread" && opts.maxRssBytes !== undefined) {
    throw new TypeError('http: maxRssBytes needs isolation: "process" (threads share one RSS)');
  }
  for (const key of ["requestTimeLimit", "maxHeapBytes", "maxRssBytes", "maxRequestsPerWorker"]) {
    const v = (opts as unknown as Record<string, unknown>)[key];
    if (v !== undefined && !(typeof v === "number" && v > 0)) {
      throw new RangeError(`http: ${key} must be a positive number, got ${v}`);
    }
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
  const flags = [...(opts.permissions ?? inheritedPermissions()), "--unstable-net", "--quiet"];
  if (opts.maxHeapBytes !== undefined) {
    // A hard cap well past the recycling limit, for an allocation too fast to drain.
    const mb = Math.ceil(opts.maxHeapBytes * 2 / 1048576) + 64;
    flags.push(`--v8-flags=--max-old-space-size=${mb}`);
  }
  flags.push(...(opts.denoFlags ?? []));
  const shared: Record<string, TableSizes> = { default: sizes() };
  for (const [name, o] of Object.entries(opts.shared ?? {})) shared[name] = sizes(o);
  handOverIntervals();
  const supervisor = new Supervisor({ transport: "tcp", hostname: host, port }, {
    count,
    isolation,
    module: String(opts.module ?? Deno.mainModule),
    options: {
      ...limits,
      host,
      port,
      dangerouslyAllowPublic: opts.dangerouslyAllowPublic,
      backlog: opts.backlog,
      ...tls,
      compress: opts.compress,
    },
    requestTimeLimit: opts.requestTimeLimit,
    maxHeapBytes: opts.maxHeapBytes,
    maxRssBytes: opts.maxRssBytes,
    maxRequestsPerWorker: opts.maxRequestsPerWorker,
    recycleTimeout: opts.recycleTimeout ?? 10_000,
    statusPath: opts.statusPath,
    flags,
    shared,
    reloadSignal: opts.reloadSignal === null || Deno.build.os === "windows"
      ? undefined
      : opts.reloadSignal ?? "SIGHUP",
  });
  try {
    await supervisor.start();
  } finally {
    probe?.close();
  }
  wireShutdown(supervisor, opts);
  return supervisor;
}

/**
 * TCP and Unix stream sockets. Listeners bind loopback addresses only
 * unless the public opt-in is named; every wait (accept, connect, read,
 * write) honours the current task's cancellation and
 * `{ timeout, deadline, signal }`; a read that times out loses no data.
 *
 * @example Echo server and client
 * ```ts
 * import { spawn } from "@lunet/lunet";
 * import { connect, listen } from "@lunet/lunet/socket";
 *
 * const server = await listen("tcp", "127.0.0.1", 0);
 * const echo = spawn(async () => {
 *   await using conn = await server.accept();
 *   for (let data; (data = await conn.read()) !== null;) await conn.write(data);
 * });
 * const conn = await connect("127.0.0.1", server.addr.port);
 * await conn.write("hello");
 * const echoed = new TextDecoder().decode((await conn.read())!);
 * if (echoed !== "hello") throw new Error(`unexpected echo ${echoed}`);
 * conn.close();
 * await echo;
 * server.close();
 * ```
 * @module
 */
import type { WaitOptions } from "./_wait.ts";
import { checkPort, checkPublic, removeStaleSocket, stripBrackets } from "./_address.ts";
import { connectHandle, resolveTarget } from "./_connect.ts";
import { type Conn, newConn } from "./_conn.ts";
import { type Listener, newListener, type TcpAddr, type UnixAddr } from "./_listener.ts";
import { scratchOf } from "./_read_scratch.ts";
import { checkBufferSize } from "./_stream_core.ts";
import { type BackendName, selectBackend } from "./_backend/select.ts";
import type { Backend } from "./_backend/types.ts";

export { Conn } from "./_conn.ts";
export {
  type AcceptOptions,
  isTransientAcceptError,
  type ListenAddr,
  Listener,
  type TcpAddr,
  type UnixAddr,
} from "./_listener.ts";
export { isLoopback } from "./_address.ts";
export type {
  Backend,
  BackendListenOptions,
  DatagramBindOptions,
  DatagramHandle,
  ListenerHandle,
  SocketAddr,
  StreamHandle,
} from "./_backend/types.ts";
export type { BackendName } from "./_backend/select.ts";

/**
 * Options for {@linkcode listen}.
 *
 * @example
 * ```ts
 * import { listen, type ListenOptions } from "@lunet/lunet/socket";
 * const opts: ListenOptions = { reusePort: true, readBufferSize: 16384 };
 * const l = await listen("tcp", "127.0.0.1", 0, opts);
 * l.close();
 * ```
 */
export interface ListenOptions {
  /**
   * Allow binding a non-loopback address. Without it (or
   * `LUNET_ALLOW_PUBLIC=1`) such a bind fails with `PermissionDenied`.
   */
  dangerouslyAllowPublic?: boolean;
  /** Share the port between processes or workers (SO_REUSEPORT, Linux). */
  reusePort?: boolean;
  /** Listen backlog, for backends that can set it. */
  backlog?: number;
  /** Largest chunk one `read()` of an accepted connection returns (default 256 KiB). */
  readBufferSize?: number;
  /**
   * The I/O backend (default: `LUNET_BACKEND`, else `"ffi"` on Linux with
   * `--allow-ffi` and unrestricted `--allow-net`, else `"deno"`).
   */
  backend?: BackendName | Backend;
}

/**
 * Options for {@linkcode connect}: a wait budget plus socket settings.
 *
 * @example
 * ```ts
 * import { type ConnectOptions } from "@lunet/lunet/socket";
 * const opts: ConnectOptions = { timeout: 2000, readBufferSize: 4096 };
 * if (opts.timeout !== 2000) throw new Error();
 * ```
 */
export interface ConnectOptions extends WaitOptions {
  /** Largest chunk one `read()` returns (default 256 KiB). */
  readBufferSize?: number;
  /**
   * The I/O backend (default: `LUNET_BACKEND`, else `"ffi"` on Linux with
   * `--allow-ffi` and unrestricted `--allow-net`, else `"deno"`).
   */
  backend?: BackendName | Backend;
}

/**
 * Listens on a TCP host and port. Non-loopback hosts need
 * `{ dangerouslyAllowPublic: true }` or `LUNET_ALLOW_PUBLIC=1`. The
 * listener's `addr` has the real port when 0 was asked for.
 *
 * @example
 * ```ts
 * import { listen } from "@lunet/lunet/socket";
 * const tcp = await listen("tcp", "127.0.0.1", 0);
 * if (!(tcp.addr.port > 0)) throw new Error("expected a port");
 * tcp.close();
 * ```
 */
export function listen(
  kind: "tcp",
  host: string,
  port: number,
  opts?: ListenOptions,
): Promise<Listener<TcpAddr>>;
/**
 * Listens on a Unix socket path. A stale Unix socket file is replaced; a
 * regular file is never removed (`AlreadyExists`). The listener's `addr`
 * has the path and no port.
 *
 * @example
 * ```ts
 * import { listen } from "@lunet/lunet/socket";
 * const path = `${await Deno.makeTempDir()}/app.sock`;
 * const unix = await listen("unix", path);
 * if (unix.addr.path !== path) throw new Error("unexpected path");
 * unix.close();
 * ```
 */
export function listen(
  kind: "unix",
  path: string,
  port?: undefined,
  opts?: ListenOptions,
): Promise<Listener<UnixAddr>>;
/**
 * Listens on a TCP host and port, or on a Unix socket path, by `kind`.
 *
 * @example
 * ```ts
 * import { listen } from "@lunet/lunet/socket";
 * const kind = "tcp" as "tcp" | "unix";
 * const l = await listen(kind, "127.0.0.1", 0);
 * if (l.addr.transport !== kind) throw new Error("unexpected transport");
 * l.close();
 * ```
 */
export function listen(
  kind: "tcp" | "unix",
  hostOrPath: string,
  port?: number,
  opts?: ListenOptions,
): Promise<Listener>;
export async function listen(
  kind: "tcp" | "unix",
  hostOrPath: string,
  port?: number,
  opts: ListenOptions = {},
): Promise<Listener> {
  const backend = selectBackend(opts.backend);
  const readBufferSize = opts.readBufferSize;
  checkBufferSize(readBufferSize);
  if (kind === "unix") {
    removeStaleSocket("listen", hostOrPath);
    const handle = await backend.listen({
      addr: { transport: "unix", path: hostOrPath },
      backlog: opts.backlog,
    });
    return newListener(handle, readBufferSize, hostOrPath, scratchOf(backend));
  }
  if (kind !== "tcp") throw new TypeError(`listen: kind must be "tcp" or "unix", got "${kind}"`);
  const host = stripBrackets(hostOrPath);
  checkPort("listen", host, port);
  checkPublic("listen", host, port!, opts.dangerouslyAllowPublic);
  const handle = await backend.listen({
    addr: { transport: "tcp", hostname: host === "localhost" ? "127.0.0.1" : host, port },
    reusePort: opts.reusePort,
    backlog: opts.backlog,
  });
  return newListener(handle, readBufferSize, undefined, scratchOf(backend));
}

/**
 * A Unix socket path as {@linkcode connect} takes it: one that contains
 * `/` (`./app.sock`, `/run/app.sock`).
 *
 * @example
 * ```ts
 * import type { UnixPath } from "@lunet/lunet/socket";
 * const path: UnixPath = "/run/app.sock";
 * if (!path.includes("/")) throw new Error();
 * ```
 */
export type UnixPath = `${string}/${string}`;

/**
 * Connects to `host:port` over TCP (names are resolved; IPv4 and IPv6), or
 * to a Unix socket when given a path containing `/` and no port.
 *
 * @example
 * ```ts
 * import { connect, listen } from "@lunet/lunet/socket";
 * const server = await listen("tcp", "127.0.0.1", 0);
 * const conn = await connect("localhost", server.addr.port, { timeout: 2000 });
 * if (conn.peer.port !== server.addr.port) throw new Error("unexpected peer");
 * conn.close();
 * server.close();
 * ```
 */
export function connect(host: string, port: number, opts?: ConnectOptions): Promise<Conn>;
/**
 * Connects to the Unix socket at `path`.
 *
 * @example
 * ```ts
 * import { connect, listen } from "@lunet/lunet/socket";
 * const path = `${await Deno.makeTempDir()}/app.sock` as const;
 * const server = await listen("unix", path);
 * const conn = await connect(path, { timeout: 2000 });
 * conn.close();
 * server.close();
 * ```
 */
export function connect(path: UnixPath, opts?: ConnectOptions): Promise<Conn>;
export async function connect(
  host: string,
  portOrOpts?: number | ConnectOptions,
  maybeOpts?: ConnectOptions,
): Promise<Conn> {
  const port = typeof portOrOpts === "number" ? portOrOpts : undefined;
  const opts = typeof portOrOpts === "object" ? portOrOpts : maybeOpts;
  const backend = selectBackend(opts?.backend);
  const readBufferSize = checkBufferSize(opts?.readBufferSize);
  const addrs = await resolveTarget(host, port, opts);
  return newConn(await connectHandle(backend, addrs, opts), readBufferSize, scratchOf(backend));
}

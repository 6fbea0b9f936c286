/**
 * The public listening-socket class, `Listener`, re-exported by
 * lunet/socket with its address types and
 * {@linkcode isTransientAcceptError}. Other lunet modules make listeners
 * with {@linkcode newListener} and pause an accept loop with
 * {@linkcode pauseAccept}; users see neither.
 *
 * @module
 */
import { ClosedError } from "./errors.ts";
import { acceptBackoff } from "./_accept_backoff.ts";
import { sleep } from "./sleep.ts";
import { race, type WaitOptions } from "./_wait.ts";
import { traceClose, traceOpen } from "./trace.ts";
import { formatAddr } from "./_address.ts";
import { type Conn, newConn } from "./_conn.ts";
import type { ReadScratch } from "./_read_scratch.ts";
import type { ListenerHandle, SocketAddr, StreamHandle } from "./_backend/types.ts";

/**
 * The bound address of a TCP listener: its IP and its port (the real one
 * when 0 was asked for).
 *
 * @example
 * ```ts
 * import { listen, type TcpAddr } from "@lunet/lunet/socket";
 * const l = await listen("tcp", "127.0.0.1", 0);
 * const addr: TcpAddr = l.addr;
 * if (addr.port === 0) throw new Error("expected the real port");
 * l.close();
 * ```
 */
export interface TcpAddr extends SocketAddr {
  /** Always `"tcp"`. */
  transport: "tcp";
  /** The bound IP address. */
  hostname: string;
  /** The bound port. */
  port: number;
}

/**
 * The bound address of a Unix listener: its socket path (no port).
 *
 * @example
 * ```ts
 * import { listen, type UnixAddr } from "@lunet/lunet/socket";
 * const path = `${await Deno.makeTempDir()}/app.sock`;
 * const l = await listen("unix", path);
 * const addr: UnixAddr = l.addr;
 * if (addr.path !== path) throw new Error("unexpected path");
 * l.close();
 * ```
 */
export interface UnixAddr extends SocketAddr {
  /** Always `"unix"`. */
  transport: "unix";
  /** The socket file's path. */
  path: string;
}

/**
 * The bound address of a listener: {@linkcode TcpAddr} or
 * {@linkcode UnixAddr}, told apart by `transport`.
 *
 * @example
 * ```ts
 * import type { ListenAddr } from "@lunet/lunet/socket";
 * const show = (a: ListenAddr) => a.transport === "tcp" ? `${a.hostname}:${a.port}` : a.path;
 * if (show({ transport: "unix", path: "/run/app.sock" }) !== "/run/app.sock") throw new Error();
 * ```
 */
export type ListenAddr = TcpAddr | UnixAddr;

/**
 * Options for {@linkcode Listener.accept}.
 *
 * @example
 * ```ts
 * import { type AcceptOptions } from "@lunet/lunet/socket";
 * const opts: AcceptOptions = { timeout: 1000 };
 * if (opts.timeout !== 1000) throw new Error();
 * ```
 */
export interface AcceptOptions extends WaitOptions {
  /** Largest chunk one `read()` of this connection returns (default: the listener's). */
  readBufferSize?: number;
}

let makeListener: (
  handle: ListenerHandle,
  readBufferSize: number | undefined,
  unlink: string | undefined,
  scratch: ReadScratch | undefined,
) => Listener<ListenAddr>;
let pause: (listener: Listener<ListenAddr>, ms: number) => Promise<void>;

/**
 * A listening socket. `accept()` waits for the next connection; async
 * iteration yields connections until the listener is closed. `close()`
 * wakes a parked accept with {@linkcode ClosedError}, or with the
 * connection the system had already accepted for it (its client is
 * connected, so it is handed out, not dropped); a connection accepted
 * while no accept waits is closed. `A` is the type of
 * its address: {@linkcode TcpAddr} for `listen("tcp", …)`,
 * {@linkcode UnixAddr} for `listen("unix", …)`.
 *
 * @example
 * ```ts
 * import { spawn } from "@lunet/lunet";
 * import { connect, listen } from "@lunet/lunet/socket";
 * const server = await listen("tcp", "127.0.0.1", 0);
 * const serving = spawn(async () => {
 *   for await (const conn of server) {
 *     await conn.write("hi\n");
 *     conn.close();
 *   }
 * });
 * const c = await connect("127.0.0.1", server.addr.port);
 * if (new TextDecoder().decode((await c.read())!) !== "hi\n") throw new Error("unexpected");
 * c.close();
 * server.close();
 * await serving;
 * ```
 */
export class Listener<A extends ListenAddr = ListenAddr>
  implements AsyncIterable<Conn>, Disposable {
  #h: ListenerHandle;
  #label: string;
  #trace: number;
  #readBufferSize: number | undefined;
  #scratch: ReadScratch | undefined;
  #accepting: Promise<StreamHandle> | undefined;
  #closing: AbortController | undefined;
  #parked = false;
  #closed = false;
  #unlink: string | undefined;

  static {
    makeListener = (handle, readBufferSize, unlink, scratch) =>
      new Listener(handle, readBufferSize, unlink, scratch);
    pause = (listener, ms) => listener.#pause(ms);
  }

  /** @ignore */
  private constructor(
    handle: ListenerHandle,
    readBufferSize: number | undefined,
    unlink: string | undefined,
    scratch: ReadScratch | undefined,
  ) {
    this.#h = handle;
    this.#readBufferSize = readBufferSize;
    this.#unlink = unlink;
    this.#scratch = scratch;
    this.#label = handle.addr.transport === "unix"
      ? `unix:${handle.addr.path}`
      : formatAddr(handle.addr);
    this.#trace = traceOpen("listener", this.#label);
  }

  /**
   * The bound address: a {@linkcode TcpAddr} (with the real port when 0
   * was asked for) or a {@linkcode UnixAddr} (its path, no port).
   */
  get addr(): A {
    return this.#h.addr as A;
  }

  /** True once {@linkcode Listener.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Waits for the next connection. A timed-out accept leaves its request in
   * flight, so no connection is lost. Only one accept may wait at a time.
   */
  async accept(opts?: AcceptOptions): Promise<Conn> {
    if (this.#closed) throw new ClosedError(`accept ${this.#label}`);
    if (this.#parked) throw new Error(`accept ${this.#label}: another accept is already waiting`);
    let pending = this.#accepting;
    if (pending === undefined) {
      pending = this.#accepting = this.#h.accept();
      // A failed accept is not kept: the next one asks the backend again.
      pending.catch(this.#acceptFailed);
    }
    this.#parked = true;
    let handle: StreamHandle;
    try {
      handle = await race(`accept ${this.#label}`, pending, opts);
    } catch (err) {
      if (this.#closed) {
        // close() left the backend's accept to this one, which gives up:
        // a connection it still delivers is closed.
        pending.then(closeHandle, ignore);
        throw new ClosedError(`accept ${this.#label}`, { cause: err });
      }
      throw err;
    } finally {
      this.#parked = false;
    }
    // A connection the system accepted before close() is handed out even
    // when close() came first: its client is connected and may have sent
    // a request already.
    this.#accepting = undefined;
    return newConn(handle, opts?.readBufferSize ?? this.#readBufferSize, this.#scratch);
  }

  // Runs before the waiting accept sees the failure, so a retry starts afresh.
  #acceptFailed = (): void => {
    this.#accepting = undefined;
  };

  /** Stops listening; idempotent. A Unix socket file is removed. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#h.close();
    this.#closing?.abort();
    // A connection accepted after the last accept() gave up is closed here
    // (a waiting accept hands it out instead).
    if (!this.#parked) this.#accepting?.then(closeHandle, ignore);
    this.#accepting = undefined;
    if (this.#unlink) {
      try {
        Deno.removeSync(this.#unlink);
      } catch {
        // Already gone.
      }
    }
    traceClose("listener", this.#trace);
  }

  /**
   * Yields accepted connections until the listener is closed. Accept
   * failures the listener outlives (out of descriptors or memory, a
   * connection reset while queued; see {@linkcode isTransientAcceptError})
   * do not end the loop: it pauses, 10 ms doubling up to 1 s while they
   * last, and accepts again.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Conn, void, undefined> {
    let failures = 0;
    for (;;) {
      let conn: Conn;
      try {
        conn = await this.accept();
      } catch (err) {
        if (this.#closed && err instanceof ClosedError) return;
        if (!isTransientAcceptError(err)) throw err;
        try {
          await this.#pause(acceptBackoff(++failures));
        } catch (paused) {
          if (this.#closed) return;
          throw paused;
        }
        continue;
      }
      failures = 0;
      yield conn;
    }
  }

  // Waits `ms` milliseconds, or less when the listener is closed meanwhile
  // (then it rejects with Cancelled): the pause between accepts that failed.
  #pause(ms: number): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError(`accept ${this.#label}`));
    return sleep(ms, { signal: (this.#closing ??= new AbortController()).signal });
  }

  /** Closes the listener (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }
}

function closeHandle(h: StreamHandle): void {
  h.close();
}

function ignore(): void {}

/**
 * Wraps a backend listener in a new {@linkcode Listener}; `unlink` is a
 * Unix socket file to remove on close, `scratch` the read buffers of the
 * backend's streams.
 */
export function newListener<A extends ListenAddr>(
  handle: ListenerHandle,
  readBufferSize?: number,
  unlink?: string,
  scratch?: ReadScratch,
): Listener<A> {
  return makeListener(handle, readBufferSize, unlink, scratch) as Listener<A>;
}

/**
 * Waits `ms` milliseconds, or less when `listener` is closed meanwhile
 * (then it rejects with `Cancelled`; at once with `ClosedError` when it is
 * closed already): the pause between accepts that failed.
 */
export function pauseAccept(listener: Listener<ListenAddr>, ms: number): Promise<void> {
  return pause(listener, ms);
}

/**
 * True for an accept failure the listener outlives: out of descriptors,
 * socket buffers or memory (`resource_exhausted`: `EMFILE`, `ENFILE`,
 * `ENOBUFS`, `ENOMEM`), or a queued connection the peer reset or aborted
 * before it was taken (`connection_reset`: `ECONNABORTED`). Accepting again
 * later may succeed.
 *
 * @example
 * ```ts
 * import { isTransientAcceptError } from "@lunet/lunet/socket";
 * import { ResourceExhausted } from "@lunet/lunet";
 * const err = new ResourceExhausted("accept: too many open files", "EMFILE");
 * if (!isTransientAcceptError(err)) throw new Error("expected a transient failure");
 * ```
 */
export function isTransientAcceptError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "resource_exhausted" || code === "connection_reset";
}

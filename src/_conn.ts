/**
 * The public connected-stream class, `Conn`, re-exported by lunet/socket.
 * Its state and I/O paths live in its {@linkcode StreamCore}; other lunet
 * modules make connections with {@linkcode newConn} and reach the core
 * with {@linkcode streamCore}, neither of which users see.
 *
 * @module
 */
import type { WaitOptions } from "./_wait.ts";
import type { ReadScratch } from "./_read_scratch.ts";
import { StreamCore } from "./_stream_core.ts";
import type { SocketAddr, StreamHandle } from "./_backend/types.ts";

export type { StreamCore } from "./_stream_core.ts";

let makeConn: (core: StreamCore) => Conn;
let coreOf: (conn: Conn) => StreamCore;

/**
 * A connected TCP or Unix stream. `read()` returns a fresh chunk (the
 * caller owns it) or `null` at end of stream; `readInto(buf)` reads
 * straight into a caller's buffer instead (the faster loop for bulk data);
 * `write()` sends all of its data, and concurrent writers are served one
 * after another, never interleaved. Only one read may wait at a time. A
 * read returns at most the read buffer size. An idle connection pins
 * little memory: on a backend with readiness waits (`ffi`) a waiting read
 * holds no buffer at all; on the `deno` backend the buffer starts at 1 KiB
 * and grows only while reads fill it.
 *
 * A read that times out or is cancelled leaves its request in flight: the
 * next read returns the data that arrived. A write interrupted part-way
 * by its timeout or cancellation closes the connection, since the peer
 * would otherwise see a truncated message followed by the next one.
 *
 * Make one with {@linkcode connect} or {@linkcode Listener.accept}.
 *
 * @example
 * ```ts
 * import { connect, listen } from "@lunet/lunet/socket";
 * const server = await listen("tcp", "127.0.0.1", 0);
 * const client = await connect("127.0.0.1", server.addr.port);
 * const peer = await server.accept();
 * await client.write("ping");
 * const got = await peer.read({ timeout: 1000 });
 * if (new TextDecoder().decode(got!) !== "ping") throw new Error("unexpected");
 * client.close();
 * peer.close();
 * server.close();
 * ```
 */
export class Conn implements AsyncDisposable, Disposable {
  #core: StreamCore;

  static {
    makeConn = (core) => new Conn(core);
    coreOf = (conn) => conn.#core;
  }

  /** @ignore */
  private constructor(core: StreamCore) {
    this.#core = core;
  }

  /** The peer's address. */
  get peer(): SocketAddr {
    return this.#core.peer;
  }

  /** The local address. */
  get local(): SocketAddr {
    return this.#core.local;
  }

  /** True once {@linkcode Conn.close} was called. */
  get closed(): boolean {
    return this.#core.closed;
  }

  /**
   * Reads the next chunk: up to the read buffer size, or `null` at end of
   * stream. The chunk is the caller's to keep. Only one read (or
   * {@linkcode Conn.readInto}) may wait at a time.
   */
  read(opts?: WaitOptions): Promise<Uint8Array | null> {
    return this.#core.read(opts);
  }

  /**
   * Reads straight into `dst` and resolves with the byte count, or `null`
   * at end of stream: a loop over one caller-owned buffer allocates and
   * copies nothing per call, the fast path for bulk data.
   *
   * When a `readInto` gives up (timeout or cancellation), nothing is lost:
   * the next read delivers what arrived. On a backend without readiness
   * waits (`deno`), the given-up read stays in flight and may still fill
   * `dst`, so pass the same buffer again, or leave `dst` alone until the
   * next read returns.
   */
  readInto(dst: Uint8Array, opts?: WaitOptions): Promise<number | null> {
    return this.#core.readInto(dst, opts);
  }

  /**
   * Writes all of `data` (a string is sent as UTF-8). Resolves once the
   * backend has taken every byte, so a peer that does not read holds the
   * writer back rather than growing memory.
   */
  write(data: string | Uint8Array, opts?: WaitOptions): Promise<void> {
    return this.#core.write(data, opts);
  }

  /**
   * Half-closes: waits for queued writes, then sends end-of-stream to the
   * peer. Reading goes on until the peer closes its side. Later writes
   * fail with {@linkcode ClosedError}.
   */
  shutdown(opts?: WaitOptions): Promise<void> {
    return this.#core.shutdown(opts);
  }

  /**
   * Closes the connection. Parked reads, writes and shutdowns wake with
   * {@linkcode ClosedError}. Idempotent.
   */
  close(): void {
    this.#core.close();
  }

  /** Sets TCP_NODELAY (no effect on Unix sockets). */
  setNoDelay(on = true): void {
    this.#core.setNoDelay(on);
  }

  /** Sets SO_KEEPALIVE (no effect on Unix sockets). */
  setKeepAlive(on = true): void {
    this.#core.setKeepAlive(on);
  }

  /** Closes the connection (for `using`). */
  [Symbol.dispose](): void {
    this.#core.close();
  }

  /** Closes the connection (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    this.#core.close();
    return Promise.resolve();
  }
}

/**
 * Wraps a backend stream in a new {@linkcode Conn} (checks
 * `readBufferSize`); `scratch` is the read buffers of the stream's backend.
 */
export function newConn(
  handle: StreamHandle,
  readBufferSize?: number,
  scratch?: ReadScratch,
): Conn {
  return makeConn(new StreamCore(handle, readBufferSize, scratch));
}

/** The stream core behind `conn`: the plumbing lunet/http and lunet/tls use. */
export function streamCore(conn: Conn): StreamCore {
  return coreOf(conn);
}

/**
 * The portable I/O backend: `Deno.listen` / `Deno.connect` streams. Each
 * read and write is one Deno async op; errors are translated with
 * `fromDenoError` so messages name the operation and the address.
 *
 * @module
 */
import { fromDenoError } from "../errors.ts";
import { formatAddr, toSocketAddr } from "../_address.ts";
import { bindDenoDatagram } from "./deno_datagram.ts";
import type {
  Backend,
  BackendListenOptions,
  DatagramBindOptions,
  DatagramHandle,
  ListenerHandle,
  SocketAddr,
  StreamHandle,
} from "./types.ts";

/**
 * A `Deno.Conn` (plain TCP, Unix, or TLS) seen through the backend
 * interface; a plain TCP stream can be upgraded with `startTls`.
 */
export class DenoStream implements StreamHandle {
  #conn: Deno.Conn;
  readonly local: SocketAddr;
  readonly peer: SocketAddr;
  #label: string;
  #closed = false;

  /**
   * @param conn the connection to wrap
   * @param peer its peer address, when known better than `conn.remoteAddr`
   */
  constructor(conn: Deno.Conn, peer?: SocketAddr) {
    this.#conn = conn;
    this.local = toSocketAddr(conn.localAddr);
    this.peer = peer ?? toSocketAddr(conn.remoteAddr);
    this.#label = formatAddr(this.peer.transport === "unix" ? this.local : this.peer);
  }

  read(buf: Uint8Array): Promise<number | null> {
    return this.#conn.read(buf).catch(this.#readFailed);
  }

  write(data: Uint8Array): Promise<number> {
    return this.#conn.write(data).catch(this.#writeFailed);
  }

  // Bound once per stream so the hot path allocates no closure per call.
  #readFailed = (err: unknown): never => {
    throw fromDenoError(err, "read", this.#label);
  };
  #writeFailed = (err: unknown): never => {
    throw fromDenoError(err, "write", this.#label);
  };

  async closeWrite(): Promise<void> {
    try {
      await this.#conn.closeWrite();
    } catch (err) {
      throw fromDenoError(err, "shutdown", this.#label);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by Deno (e.g. after a TLS handshake failure).
    }
  }

  /** Upgrades a TCP stream to TLS with `Deno.startTls`; the stream is consumed. */
  startTls(opts: Deno.StartTlsOptions): Promise<Deno.TlsConn> {
    if (this.peer.transport !== "tcp") {
      return Promise.reject(new TypeError(`startTls ${this.#label}: not a TCP connection`));
    }
    return Deno.startTls(this.#conn as Deno.TcpConn, opts);
  }

  setNoDelay(on: boolean): void {
    if (this.peer.transport === "tcp") (this.#conn as Deno.TcpConn).setNoDelay(on);
  }

  setKeepAlive(on: boolean): void {
    if (this.peer.transport === "tcp") (this.#conn as Deno.TcpConn).setKeepAlive(on);
  }
}

/**
 * A `Deno.Listener` seen through the backend interface; `wrap` turns each
 * accepted Deno connection into a handle (TLS listeners reuse this class).
 */
export class DenoListener implements ListenerHandle {
  readonly addr: SocketAddr;
  #listener: Deno.Listener;
  #label: string;
  #closed = false;

  /** @param listener the Deno listener to wrap */
  constructor(listener: Deno.Listener) {
    this.#listener = listener;
    this.addr = toSocketAddr(listener.addr);
    this.#label = formatAddr(this.addr);
  }

  async accept(): Promise<StreamHandle> {
    try {
      return new DenoStream(await this.#listener.accept());
    } catch (err) {
      throw fromDenoError(err, "accept", this.#label);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * The `deno` backend.
 *
 * @example
 * ```ts ignore
 * const l = await denoBackend.listen({ addr: { transport: "tcp", hostname: "127.0.0.1", port: 0 } });
 * ```
 */
export const denoBackend: Backend = {
  name: "deno",
  listen(opts: BackendListenOptions): ListenerHandle {
    const { addr } = opts;
    try {
      const listener = addr.transport === "unix"
        ? Deno.listen({ transport: "unix", path: addr.path! })
        : Deno.listen({
          transport: "tcp",
          hostname: addr.hostname,
          port: addr.port,
          reusePort: opts.reusePort,
          tcpBacklog: opts.backlog,
        });
      return new DenoListener(listener);
    } catch (err) {
      throw fromDenoError(err, "listen", formatAddr(addr));
    }
  },
  async connect(addr: SocketAddr, signal?: AbortSignal): Promise<StreamHandle> {
    try {
      const conn = addr.transport === "unix"
        ? await Deno.connect({ transport: "unix", path: addr.path! })
        : await Deno.connect({
          transport: "tcp",
          hostname: addr.hostname,
          port: addr.port!,
          signal,
        });
      return new DenoStream(conn, addr);
    } catch (err) {
      throw fromDenoError(err, "connect", formatAddr(addr));
    }
  },
  bindDatagram(addr: SocketAddr, opts?: DatagramBindOptions): DatagramHandle {
    return bindDenoDatagram(addr, opts);
  },
};

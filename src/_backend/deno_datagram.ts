/**
 * Datagram sockets of the portable backend: a `Deno.DatagramConn` (UDP or
 * Unix datagrams, from `Deno.listenDatagram`, which needs `--unstable-net`
 * or `"unstable": ["net"]` in deno.json) seen through the backend
 * interface. Every receive and send is one Deno async op; errors are
 * translated with `fromDenoError`.
 *
 * @module
 */
import { fromDenoError } from "../errors.ts";
import { formatAddr, toSocketAddr } from "../_address.ts";
import type { DatagramBindOptions, DatagramHandle, SocketAddr } from "./types.ts";

/** A `Deno.DatagramConn` seen through the backend interface. */
export class DenoDatagram implements DatagramHandle {
  readonly local: SocketAddr;
  #conn: Deno.DatagramConn;
  #unix: boolean;
  #label: string;
  #from: SocketAddr = { transport: "tcp" };

  /** @param conn the Deno datagram socket to wrap */
  constructor(conn: Deno.DatagramConn) {
    this.#conn = conn;
    this.local = toSocketAddr(conn.addr);
    this.#unix = this.local.transport === "unix";
    this.#label = this.#unix ? `unix:${this.local.path}` : formatAddr(this.local);
  }

  receive(buf: Uint8Array): Promise<number> {
    return this.#conn.receive(buf).then(this.#received, this.#receiveFailed);
  }

  // Bound once per socket so a receive allocates no closure.
  #received = ([view, from]: [Uint8Array, Deno.Addr]): number => {
    this.#from = toSocketAddr(from);
    return view.length;
  };
  #receiveFailed = (err: unknown): never => {
    throw fromDenoError(err, "recv", this.#label);
  };

  from(): SocketAddr {
    return this.#from;
  }

  async send(data: Uint8Array, host: string, port: number): Promise<number> {
    const to: Deno.Addr = this.#unix
      ? { transport: "unixpacket", path: host }
      : { transport: "udp", hostname: host, port };
    try {
      return await this.#conn.send(data, to);
    } catch (err) {
      const target = this.#unix ? host : formatAddr({ transport: "tcp", hostname: host, port });
      throw fromDenoError(err, "send", target);
    }
  }

  async joinMulticast(group: string, iface: string): Promise<() => Promise<void>> {
    try {
      if (group.includes(":")) {
        const m = await this.#conn.joinMulticastV6(group, 0);
        return () => m.leave();
      }
      const m = await this.#conn.joinMulticastV4(group, iface);
      return () => m.leave();
    } catch (err) {
      throw fromDenoError(err, "joinMulticast", group);
    }
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}

function unavailable(): Error {
  return new Error(
    "udp bind: Deno.listenDatagram is unavailable; run with --unstable-net " +
      'or add "unstable": ["net"] to deno.json',
  );
}

/**
 * Binds a Deno datagram socket: UDP on an IP address and port, or a Unix
 * datagram socket on a path.
 *
 * @example
 * ```ts ignore
 * const d = bindDenoDatagram({ transport: "tcp", hostname: "127.0.0.1", port: 0 });
 * ```
 */
export function bindDenoDatagram(addr: SocketAddr, opts: DatagramBindOptions = {}): DenoDatagram {
  if (typeof Deno.listenDatagram !== "function") throw unavailable();
  try {
    const conn = addr.transport === "unix"
      ? Deno.listenDatagram({ transport: "unixpacket", path: addr.path! })
      : Deno.listenDatagram({
        transport: "udp",
        hostname: addr.hostname!,
        port: addr.port!,
        reuseAddress: opts.reuseAddress,
        loopback: opts.multicastLoopback,
      });
    return new DenoDatagram(conn);
  } catch (err) {
    const where = addr.transport === "unix" ? `unix:${addr.path}` : formatAddr(addr);
    throw fromDenoError(err, "bind", where);
  }
}

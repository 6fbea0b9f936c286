/**
 * A listening socket of the FFI backend: `accept4` straight into
 * nonblocking close-on-exec fds, parking on the poller only after `EAGAIN`.
 *
 * @module
 */
import { ClosedError } from "../../errors.ts";
import { traceClose, traceOpen } from "../../trace.ts";
import { formatAddr } from "../../_address.ts";
import type { ListenerHandle, SocketAddr, StreamHandle } from "../types.ts";
import { errno, errnoError } from "./errno.ts";
import {
  EAGAIN,
  ECONNABORTED,
  EINTR,
  EPOLLERR,
  EPOLLET,
  EPOLLIN,
  libc,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
} from "./libc.ts";
import { poller, type PollTarget } from "./poller.ts";
import { decodeAddr, SOCKADDR_MAX } from "./sockaddr.ts";
import { FfiStream } from "./stream.ts";

interface Acceptor {
  resolve(stream: StreamHandle): void;
  reject(err: unknown): void;
}

/**
 * A bound, listening nonblocking socket. Owns `fd` from construction on.
 */
export class FfiListener implements ListenerHandle, PollTarget {
  readonly addr: SocketAddr;
  #fd: number;
  #id: number;
  #trace: number;
  #label: string;
  #ready = true;
  #acceptor: Acceptor | undefined;
  // Where accept4 writes the peer address of the connection it takes.
  #peerBuf = new Uint8Array(SOCKADDR_MAX);
  #peerLen = new Uint32Array(1);

  /**
   * @param fd a listening nonblocking socket, owned by the listener from now on
   * @param addr its bound address
   */
  constructor(fd: number, addr: SocketAddr) {
    this.#fd = fd;
    this.addr = addr;
    this.#label = formatAddr(addr);
    this.#trace = traceOpen("fd", `listen ${this.#label}`);
    try {
      this.#id = poller().add(fd, EPOLLIN | EPOLLERR | EPOLLET, this);
    } catch (err) {
      libc().close(fd);
      traceClose("fd", this.#trace);
      throw err;
    }
  }

  accept(): Promise<StreamHandle> {
    try {
      const stream = this.#tryAccept();
      if (stream) return Promise.resolve(stream);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#acceptor) {
      return Promise.reject(new Error(`accept ${this.#label}: another accept is already waiting`));
    }
    return new Promise((resolve, reject) => {
      this.#acceptor = { resolve, reject };
      poller().park();
    });
  }

  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    const acceptor = this.#acceptor;
    this.#acceptor = undefined;
    const p = poller();
    p.remove(this.#id, fd);
    libc().close(fd);
    traceClose("fd", this.#trace);
    if (acceptor) {
      p.unpark();
      acceptor.reject(new ClosedError(`accept ${this.#label}`));
    }
  }

  onEvents(): void {
    this.#ready = true;
    const acceptor = this.#acceptor;
    if (!acceptor) return;
    this.#acceptor = undefined;
    let stream: FfiStream | undefined;
    try {
      stream = this.#tryAccept();
    } catch (err) {
      poller().unpark();
      acceptor.reject(err);
      return;
    }
    if (!stream) {
      this.#acceptor = acceptor;
      return;
    }
    poller().unpark();
    acceptor.resolve(stream);
  }

  // The next queued connection, or undefined when none is waiting.
  #tryAccept(): FfiStream | undefined {
    if (this.#fd < 0) throw new ClosedError(`accept ${this.#label}`);
    if (!this.#ready || this.#acceptor) return undefined;
    const c = libc();
    const peerBuf = this.#peerBuf, peerLen = this.#peerLen;
    for (;;) {
      peerLen[0] = SOCKADDR_MAX;
      const fd = c.accept4(this.#fd, peerBuf, peerLen, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        const unix = this.addr.transport === "unix";
        return new FfiStream(fd, decodeAddr(peerBuf, peerLen[0]), unix ? this.#label : undefined);
      }
      const code = errno();
      if (code === EAGAIN) {
        this.#ready = false;
        return undefined;
      }
      if (code !== EINTR && code !== ECONNABORTED) throw errnoError(code, "accept", this.#label);
    }
  }
}

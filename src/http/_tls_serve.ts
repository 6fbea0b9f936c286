/**
 * HTTPS serving: a TLS listener (Deno's rustls, as lunet/tls) whose
 * connections reach the HTTP server only once their handshake is done,
 * so a slow or failed handshake (a plain-HTTP request to the TLS port, a
 * client that does not trust the certificate) never stalls accepting and
 * never reaches the HTTP engine: it is closed, and the server carries on.
 * ALPN offers `http/1.1`. `setCertificates` swaps the certificate for new
 * connections without touching open ones.
 *
 * Runtime limits, said plainly: `Deno.listenTls` takes one certificate
 * (Deno 2.9 has no SNI certificate resolver), so one listener cannot pick
 * a certificate by server name; and TLS runs on Deno's own sockets, so an
 * HTTPS server's connections are `Deno.TlsConn`s whatever the socket
 * backend (the `ffi` backend has no TLS).
 *
 * @module
 */
import { ClosedError, ConnectionReset } from "../errors.ts";
import { fromDenoError } from "../errors.ts";
import { checkPublic, formatAddr } from "../_address.ts";
import { newListener } from "../_listener.ts";
import type { Listener, TcpAddr } from "../socket.ts";
import { DenoStream } from "../_backend/deno.ts";
import type { ListenerHandle, StreamHandle } from "../_backend/types.ts";

/**
 * A certificate chain and its private key, as PEM text or as file paths.
 *
 * @example
 * ```ts
 * import type { TlsCertificate } from "@lunet/lunet/http";
 * const files: TlsCertificate = { certFile: "cert.pem", keyFile: "key.pem" };
 * ```
 */
export interface TlsCertificate {
  /** Certificate chain, PEM. */
  cert?: string;
  /** Private key, PEM. */
  key?: string;
  /** Path of the PEM certificate chain. */
  certFile?: string;
  /** Path of the PEM private key. */
  keyFile?: string;
}

/**
 * The certificate of one server name, for `certs`.
 *
 * @example
 * ```ts
 * import type { NamedCertificate } from "@lunet/lunet/http";
 * const site: NamedCertificate = { hostname: "example.test", certFile: "cert.pem", keyFile: "key.pem" };
 * ```
 */
export interface NamedCertificate extends TlsCertificate {
  /** The server name (SNI) the certificate is for. */
  hostname: string;
}

/**
 * The HTTPS options every server takes (part of `BaseServeOptions`): with
 * `cert` and `key` (or the file forms) the server speaks HTTPS only, with
 * ALPN `http/1.1`, and the same limits, timeouts and graceful shutdown as
 * plain HTTP. The handshake must finish within `headerTimeout`.
 *
 * `certs` lists certificates by server name, for certificate selection by
 * SNI; Deno 2.9's `Deno.listenTls` takes a single certificate and has no
 * per-name resolver, so `certs` takes one entry (served to every name)
 * and more than one is refused with a `TypeError` that says so.
 *
 * @example
 * ```ts
 * import type { TlsServeOptions } from "@lunet/lunet/http";
 * const opts: TlsServeOptions = { certFile: "cert.pem", keyFile: "key.pem" };
 * ```
 */
export interface TlsServeOptions extends TlsCertificate {
  /** Certificates by server name (one entry: see the interface doc). */
  certs?: NamedCertificate[];
}

/** A certificate and key as PEM text. */
export interface PemPair {
  /** Certificate chain. */
  cert: string;
  /** Private key. */
  key: string;
}

async function pem(text: string | undefined, file: string | undefined, what: string) {
  if (text !== undefined || file === undefined) return text;
  try {
    return await Deno.readTextFile(file);
  } catch (err) {
    throw fromDenoError(err, `http: read ${what}`, file);
  }
}

/** The certificate `opts` names, read from its files if need be. */
export async function loadCertificate(opts: TlsServeOptions): Promise<PemPair> {
  let source: TlsCertificate = opts;
  if (opts.certs !== undefined && opts.certs.length > 0) {
    if (opts.certs.length > 1) {
      throw new TypeError(
        "http: certs: Deno's TLS listener takes one certificate and cannot select one by " +
          "server name (SNI); give one certificate valid for every name (SANs) instead",
      );
    }
    if (opts.cert !== undefined || opts.certFile !== undefined) {
      throw new TypeError("http: give either cert/key or certs, not both");
    }
    source = opts.certs[0];
  }
  const cert = await pem(source.cert, source.certFile, "certificate");
  const key = await pem(source.key, source.keyFile, "key");
  if (cert === undefined || key === undefined) {
    throw new TypeError("http: HTTPS needs cert/certFile and key/keyFile");
  }
  return { cert, key };
}

/**
 * A server-side TLS stream. A client that closes without `close_notify`
 * (most do, when they are done) ends the stream as a plain close would,
 * and a record that fails to decrypt counts as a reset: neither is a
 * server failure. A `Deno.TlsConn` has no socket options, so those calls
 * do nothing.
 */
class HttpsStream extends DenoStream {
  /** The protocol ALPN chose (`"h2"`, `"http/1.1"`), or null (read by ./_h2_service.ts). */
  alpnProtocol: string | null = null;
  override read(buf: Uint8Array): Promise<number | null> {
    return super.read(buf).catch(endOfTls);
  }
  override setNoDelay(): void {}
  override setKeepAlive(): void {}
}

function endOfTls(err: unknown): null {
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (cause instanceof Deno.errors.UnexpectedEof) return null;
  if (cause instanceof Deno.errors.InvalidData) {
    throw new ConnectionReset(`${(err as Error).message}`, { cause });
  }
  throw err;
}

interface Waiter {
  resolve(h: StreamHandle): void;
  reject(err: unknown): void;
}

/** Most handshaken connections kept waiting for the server to accept them. */
const READY_MAX = 1024;

/**
 * A TLS listener handing over connections whose handshake is complete.
 * Handshakes run concurrently, each bounded by the handshake timeout.
 */
class TlsAcceptor implements ListenerHandle {
  readonly addr: TcpAddr;
  #host: string;
  #listener: Deno.TlsListener;
  #timeout: number;
  #alpn: string[];
  #ready: StreamHandle[] = [];
  #failure: unknown = undefined;
  #waiter: Waiter | undefined;
  #handshaking = new Set<Deno.TlsConn>();
  #closed = false;
  #shared: boolean;
  #pair: PemPair;
  // The accept loop of the current listener; it ends once that listener is closed.
  #looping: Promise<void>;
  // Listeners closed by a certificate switch, whose loops end quietly.
  #retired = new Set<Deno.TlsListener>();

  constructor(host: string, port: number, pair: PemPair, handshakeTimeout: number, alpn: string[]) {
    const { listener, shared } = openTls(host, port, pair, true, alpn);
    this.#alpn = alpn;
    this.#listener = listener;
    this.#shared = shared;
    this.#pair = pair;
    this.#host = host;
    this.addr = { transport: "tcp", hostname: listener.addr.hostname, port: listener.addr.port };
    this.#timeout = handshakeTimeout;
    this.#looping = this.#loop(listener);
  }

  async #loop(listener: Deno.TlsListener): Promise<void> {
    for (;;) {
      let tls: Deno.TlsConn;
      try {
        tls = await listener.accept();
      } catch (err) {
        if (this.#closed || this.#retired.has(listener)) {
          this.#retired.delete(listener);
          return;
        }
        // Out of descriptors, say: the server reports it and backs off.
        this.#fail(fromDenoError(err, "accept", formatAddr(this.addr)));
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (this.#closed) {
        tls.close();
        return;
      }
      this.#handshake(tls);
    }
  }

  async #handshake(tls: Deno.TlsConn): Promise<void> {
    this.#handshaking.add(tls);
    const timer = setTimeout(() => close(tls), this.#timeout);
    let alpn: string | null = null;
    try {
      alpn = (await tls.handshake()).alpnProtocol;
    } catch {
      // Not TLS, not trusted, too slow, or gone: nothing for HTTP to see.
      close(tls);
      return;
    } finally {
      clearTimeout(timer);
      this.#handshaking.delete(tls);
    }
    if (this.#closed || this.#ready.length >= READY_MAX) return close(tls);
    const handle = new HttpsStream(tls);
    handle.alpnProtocol = alpn;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) waiter.resolve(handle);
    else this.#ready.push(handle);
  }

  #fail(err: unknown): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) waiter.reject(err);
    else this.#failure ??= err;
  }

  accept(): Promise<StreamHandle> {
    const ready = this.#ready.shift();
    if (ready) return Promise.resolve(ready);
    if (this.#closed) {
      return Promise.reject(new ClosedError(`accept ${formatAddr(this.addr)}`));
    }
    if (this.#failure !== undefined) {
      const err = this.#failure;
      this.#failure = undefined;
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => this.#waiter = { resolve, reject });
  }

  /**
   * Serves new connections with `pair`: a new listener joins the port
   * (SO_REUSEPORT), then the old one closes. Open connections and
   * handshakes in progress keep the certificate they started with.
   */
  async swap(pair: PemPair): Promise<void> {
    if (this.#closed) throw new ClosedError(`setCertificates ${formatAddr(this.addr)}`);
    const old = this.#listener, previous = this.#looping;
    let next: Deno.TlsListener;
    if (this.#shared) next = openTls(this.#host, this.addr.port, pair, true, this.#alpn).listener;
    else {
      // Without a shared port the old listener must go first: new
      // connections are refused for that moment.
      this.#retired.add(old);
      closeListener(old);
      await previous;
      try {
        next = openTls(this.#host, this.addr.port, pair, false, this.#alpn).listener;
      } catch (err) {
        this.#listener =
          openTls(this.#host, this.addr.port, this.#pair, false, this.#alpn).listener;
        this.#looping = this.#loop(this.#listener);
        throw err;
      }
    }
    this.#pair = pair;
    this.#listener = next;
    this.#looping = this.#loop(next);
    if (this.#shared) {
      this.#retired.add(old);
      closeListener(old);
    }
    // Once the old loop has seen its accept fail, the old socket has left
    // the port: from then on every new connection reaches the new one.
    await previous;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeListener(this.#listener);
    for (const tls of this.#handshaking) close(tls);
    for (const h of this.#ready) h.close();
    this.#ready = [];
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(new ClosedError(`accept ${formatAddr(this.addr)}`));
  }
}

function close(tls: Deno.TlsConn): void {
  try {
    tls.close();
  } catch {
    // Already closed.
  }
}

function closeListener(l: Deno.TlsListener): void {
  try {
    l.close();
  } catch {
    // Already closed.
  }
}

/**
 * A TLS listener for `pair`, sharing its port (SO_REUSEPORT) when `share`
 * is true, so a certificate reload can open the next listener beside it.
 * Sharing needs Deno's `net` unstable feature (`--unstable-net`, or
 * `"unstable": ["net"]` in deno.json); without it the listener is opened
 * unshared and `shared` tells.
 */
function openTls(
  host: string,
  port: number,
  pair: PemPair,
  share: boolean,
  alpn: string[] = ["http/1.1"],
): { listener: Deno.TlsListener; shared: boolean } {
  const where = formatAddr({ transport: "tcp", hostname: host, port });
  const opts = {
    hostname: host,
    port,
    cert: pair.cert,
    key: pair.key,
    alpnProtocols: alpn,
  };
  // Deno offers `reusePort` on TLS listeners only with its `net` unstable
  // feature (and ends the process when asked otherwise), which also
  // brings `Deno.listenDatagram`.
  const shared = share && typeof Deno.listenDatagram === "function";
  try {
    return { listener: Deno.listenTls(shared ? { ...opts, reusePort: true } : opts), shared };
  } catch (err) {
    throw fromDenoError(err, "http: listenTls", where);
  }
}

/** A TLS server socket and the certificate reload of its server. */
export interface TlsListening {
  /** Accepts connections whose handshake is complete. */
  listener: Listener<TcpAddr>;
  /** Reads `opts` and serves new connections with its certificate. */
  setCertificates(opts: TlsServeOptions): Promise<void>;
}

/** Options of {@linkcode listenHttps} beyond the certificate. */
export interface HttpsListenOptions {
  /** Host to bind. */
  host: string;
  /** Port (0: a free one). */
  port: number;
  /** Allow a non-loopback host. */
  dangerouslyAllowPublic?: boolean;
  /** Most time a handshake may take (ms). */
  handshakeTimeout: number;
  /** Offer HTTP/2 by ALPN (`h2`, then `http/1.1`). */
  http2?: boolean;
}

/** Listens for HTTPS on `where` with the certificate of `tls`. */
export async function listenHttps(
  tls: TlsServeOptions,
  where: HttpsListenOptions,
): Promise<TlsListening> {
  const pair = await loadCertificate(tls);
  const host = where.host === "localhost" ? "127.0.0.1" : where.host;
  checkPublic("serve", host, where.port, where.dangerouslyAllowPublic);
  const alpn = where.http2 ? ["h2", "http/1.1"] : ["http/1.1"];
  const acceptor = new TlsAcceptor(host, where.port, pair, where.handshakeTimeout, alpn);
  return {
    listener: newListener<TcpAddr>(acceptor),
    setCertificates: async (opts) => await acceptor.swap(await loadCertificate(opts)),
  };
}

/** Throws when `pair` is not a certificate and key Deno's TLS can serve. */
export function checkCertificate(pair: PemPair): void {
  openTls("127.0.0.1", 0, pair, false).listener.close();
}

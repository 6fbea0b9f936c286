/**
 * TLS over Deno's rustls: {@linkcode listenTls}, {@linkcode connectTls} and
 * {@linkcode startTls} return the same {@linkcode Listener} and
 * {@linkcode Conn} as lunet/socket. Peers are verified by default against
 * the system roots plus any `caCerts` given; the only opt-out is the
 * explicitly named `dangerouslyDisableHostnameVerification` (Deno offers no
 * per-connection way to skip chain verification: that takes the
 * `--unsafely-ignore-certificate-errors` flag).
 *
 * TLS always runs on Deno's own sockets, whatever the socket backend:
 * `listenTls` and `connectTls` open `deno`-backend streams, and
 * `startTls` upgrades only a TCP connection opened with
 * `connect(host, port, { backend: "deno" })` (Deno's TLS takes a
 * `Deno.TcpConn`, not a libc socket of the `ffi` backend).
 *
 * @example
 * ```ts ignore
 * import { connectTls, listenTls } from "@lunet/lunet/tls";
 * const server = await listenTls("127.0.0.1", 0, { certFile: "cert.pem", keyFile: "key.pem" });
 * const conn = await connectTls("localhost", server.addr.port, { caFile: "ca.pem" });
 * await conn.write("hello");
 * ```
 * @module
 */
import { fromDenoError } from "./errors.ts";
import { abandon, race, type WaitOptions } from "./_wait.ts";
import { type Conn, connect, type Listener, type TcpAddr } from "./socket.ts";
import { checkPublic, formatAddr } from "./_address.ts";
import { newConn, streamCore } from "./_conn.ts";
import { newListener } from "./_listener.ts";
import { DenoListener, DenoStream } from "./_backend/deno.ts";
import type { StreamHandle } from "./_backend/types.ts";

/**
 * Options for {@linkcode listenTls}: the certificate and key, as PEM text or
 * as file paths.
 *
 * @example
 * ```ts
 * import type { ListenTlsOptions } from "@lunet/lunet/tls";
 * const opts: ListenTlsOptions = { certFile: "cert.pem", keyFile: "key.pem" };
 * console.log(opts);
 * ```
 */
export interface ListenTlsOptions {
  /** Certificate chain, PEM. */
  cert?: string;
  /** Private key, PEM. */
  key?: string;
  /** Path of the PEM certificate chain. */
  certFile?: string;
  /** Path of the PEM private key. */
  keyFile?: string;
  /** ALPN protocols to offer, e.g. `["http/1.1"]`. */
  alpnProtocols?: string[];
  /** Allow binding a non-loopback address (or set `LUNET_ALLOW_PUBLIC=1`). */
  dangerouslyAllowPublic?: boolean;
  /** Share the port between processes or workers (SO_REUSEPORT). */
  reusePort?: boolean;
  /** Largest chunk one `read()` of an accepted connection returns. */
  readBufferSize?: number;
}

/**
 * Options for {@linkcode connectTls} and {@linkcode startTls}.
 *
 * @example
 * ```ts
 * import type { ConnectTlsOptions } from "@lunet/lunet/tls";
 * const opts: ConnectTlsOptions = { caFile: "ca.pem", timeout: 5000 };
 * console.log(opts);
 * ```
 */
export interface ConnectTlsOptions extends WaitOptions {
  /** Extra trusted root certificates, PEM (the system roots stay trusted). */
  caCerts?: string[];
  /** Path of a PEM file with an extra trusted root certificate. */
  caFile?: string;
  /** The name to verify and send as SNI (default: the host connected to). */
  serverName?: string;
  /** ALPN protocols to offer. */
  alpnProtocols?: string[];
  /** Accept a certificate whose names do not match. Unsafe; named so on purpose. */
  dangerouslyDisableHostnameVerification?: boolean;
  /** Largest chunk one `read()` returns. */
  readBufferSize?: number;
}

async function readPem(
  text: string | undefined,
  file: string | undefined,
  what: string,
): Promise<string | undefined> {
  if (text !== undefined || file === undefined) return text;
  try {
    return await Deno.readTextFile(file);
  } catch (err) {
    throw fromDenoError(err, `read ${what}`, file);
  }
}

async function caList(opts: ConnectTlsOptions): Promise<string[] | undefined> {
  const extra = await readPem(undefined, opts.caFile, "CA");
  if (extra === undefined) return opts.caCerts;
  return [...(opts.caCerts ?? []), extra];
}

/**
 * Listens for TLS connections on a loopback host (public hosts need the
 * opt-in, as with `listen`). The handshake runs with the first read or
 * write of each accepted connection, so a slow client never stalls accept.
 *
 * @example
 * ```ts ignore
 * import { listenTls } from "@lunet/lunet/tls";
 * const server = await listenTls("127.0.0.1", 8443, {
 *   cert: await Deno.readTextFile("cert.pem"),
 *   key: await Deno.readTextFile("key.pem"),
 * });
 * for await (const conn of server) conn.close();
 * ```
 */
export async function listenTls(
  host: string,
  port: number,
  opts: ListenTlsOptions,
): Promise<Listener<TcpAddr>> {
  const cert = await readPem(opts.cert, opts.certFile, "certificate");
  const key = await readPem(opts.key, opts.keyFile, "key");
  const where = formatAddr({ transport: "tcp", hostname: host, port });
  if (cert === undefined || key === undefined) {
    throw new TypeError(`listenTls ${where}: cert/certFile and key/keyFile are required`);
  }
  checkPublic("listenTls", host, port, opts.dangerouslyAllowPublic);
  let listener: Deno.TlsListener;
  try {
    listener = Deno.listenTls({
      hostname: host === "localhost" ? "127.0.0.1" : host,
      port,
      cert,
      key,
      alpnProtocols: opts.alpnProtocols,
      reusePort: opts.reusePort,
    });
  } catch (err) {
    throw fromDenoError(err, "listenTls", where);
  }
  return newListener(new DenoListener(listener), opts.readBufferSize);
}

// Completes the handshake under the wait options; on failure the
// connection is closed, now or when the abandoned handshake settles.
async function handshake(
  tls: Deno.TlsConn,
  where: string,
  opts: ConnectTlsOptions | undefined,
): Promise<Conn> {
  const pending = tls.handshake();
  try {
    await race(`tls handshake ${where}`, pending, opts);
  } catch (err) {
    abandon(pending);
    try {
      tls.close();
    } catch {
      // Already closed by Deno.
    }
    throw fromDenoError(err, "tls handshake", where);
  }
  return newConn(new DenoStream(tls), opts?.readBufferSize);
}

/**
 * Connects over TLS and completes the handshake, verifying the server
 * against the system roots and `caCerts`/`caFile`.
 *
 * @example
 * ```ts ignore
 * import { connectTls } from "@lunet/lunet/tls";
 * const conn = await connectTls("example.com", 443, { timeout: 5000 });
 * await conn.write("HEAD / HTTP/1.0\r\nHost: example.com\r\n\r\n");
 * console.log(await conn.read());
 * conn.close();
 * ```
 */
export async function connectTls(
  host: string,
  port: number,
  opts?: ConnectTlsOptions,
): Promise<Conn> {
  if (opts?.serverName !== undefined && opts.serverName !== host) {
    return startTls(await connect(host, port, { ...opts, backend: "deno" }), opts);
  }
  const where = formatAddr({ transport: "tcp", hostname: host, port });
  const caCerts = opts ? await caList(opts) : undefined;
  const pending = Deno.connectTls({
    hostname: host,
    port,
    caCerts,
    alpnProtocols: opts?.alpnProtocols,
    unsafelyDisableHostnameVerification: opts?.dangerouslyDisableHostnameVerification,
  });
  let tls: Deno.TlsConn;
  try {
    tls = await race(`connectTls ${where}`, pending, opts);
  } catch (err) {
    abandon(pending.then(closeTls));
    throw fromDenoError(err, "connectTls", where);
  }
  return handshake(tls, where, opts);
}

function closeTls(tls: Deno.TlsConn): void {
  tls.close();
}

// Deno's TLS upgrades only its own TCP connections.
function checkUpgradable(handle: StreamHandle, where: string): void {
  if (handle.startTls !== undefined && handle.peer.transport === "tcp") return;
  throw new TypeError(
    `${where}: needs a TCP connection of the deno backend (Deno's TLS upgrades a ` +
      `Deno.TcpConn only); open it with connect(host, port, { backend: "deno" })`,
  );
}

/**
 * Upgrades a connected TCP {@linkcode Conn} to TLS as a client (STARTTLS);
 * the plain `conn` must be idle and is consumed. Needs a connection of the
 * `deno` backend (`connect(host, port, { backend: "deno" })`), since the
 * TLS layer is Deno's own: on a connection of the `ffi` backend (the
 * default on Linux with `--allow-ffi`) or a Unix socket it throws a
 * `TypeError` saying so, and leaves `conn` open and usable.
 *
 * @example
 * ```ts ignore
 * import { connect } from "@lunet/lunet/socket";
 * import { startTls } from "@lunet/lunet/tls";
 * const plain = await connect("127.0.0.1", 5432, { backend: "deno" });
 * // ... negotiate the upgrade in clear text ...
 * const secure = await startTls(plain, { serverName: "localhost", caFile: "ca.pem" });
 * ```
 */
export async function startTls(conn: Conn, opts?: ConnectTlsOptions): Promise<Conn> {
  const peer = conn.peer;
  const where = formatAddr(peer);
  const caCerts = opts ? await caList(opts) : undefined;
  const handle = streamCore(conn).detach("startTls", checkUpgradable);
  let tls: Deno.TlsConn;
  try {
    tls = await handle.startTls!({
      hostname: opts?.serverName ?? peer.hostname,
      caCerts,
      alpnProtocols: opts?.alpnProtocols,
      unsafelyDisableHostnameVerification: opts?.dangerouslyDisableHostnameVerification,
    });
  } catch (err) {
    handle.close();
    throw fromDenoError(err, "startTls", where);
  }
  return handshake(tls, where, opts);
}

/**
 * The client side: {@linkcode connect} opens a `ws://` or `wss://` URL
 * over lunet sockets (TLS through lunet/tls) and runs the opening
 * handshake.
 *
 * @module
 */
import { ProtocolError } from "../errors.ts";
import { budget, type WaitOptions } from "../_wait.ts";
import { type Conn, connect as connectTcp } from "../socket.ts";
import { connectTls } from "../tls.ts";
import {
  checkAnswer,
  clientOffer,
  type CompressOptions,
  Deflate,
  parseExtensions,
} from "./_deflate.ts";
import { acceptKey, hasToken, isToken, randomKey, tokens } from "./_handshake.ts";
import { createWsConn, type WsConn } from "./websocket.ts";
import type { WebSocketOptions } from "./options.ts";

/**
 * Options of {@linkcode connect}.
 *
 * @example
 * ```ts
 * import type { ConnectOptions } from "@lunet/lunet/ws";
 * const opts: ConnectOptions = { protocols: ["chat"], timeout: 5000, compress: true };
 * ```
 */
export interface ConnectOptions extends WebSocketOptions, WaitOptions {
  /** Subprotocols to offer, in order of preference. */
  protocols?: string[];
  /** Extra request header fields (not the handshake's own). */
  headers?: Record<string, string> | [string, string][];
  /** Extra trusted root certificates for `wss://`, PEM. */
  caCerts?: string[];
  /**
   * `wss://` only: accept a certificate whose names do not match the host.
   * The chain is still verified (trust a test CA with `caCerts`).
   */
  insecure?: boolean;
  /** Offer permessage-deflate (default false); an object tunes it. */
  compress?: boolean | CompressOptions;
}

const HEAD_MAX = 16384;
/** How long a connect and its handshake may take when the caller sets no timeout or deadline. */
const CONNECT_TIMEOUT = 30_000;
const decoder = new TextDecoder();
const RESERVED = new Set([
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "content-length",
  "transfer-encoding",
]);

/**
 * Connects to a WebSocket server and completes the handshake; `timeout`
 * (default 30 s, unless a `deadline` is given) bounds the connect and the
 * handshake together, and `signal` aborts them. A refusal (any status but 101, a wrong accept key, a
 * subprotocol or extension that was not offered) fails with
 * `ProtocolError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "@lunet/lunet/http";
 * import { accept, connect } from "@lunet/lunet/ws";
 * const server = await serve(async (req) => {
 *   const ws = await accept(req, { protocols: ["chat"] });
 *   await ws.send(`hello ${ws.protocol}`);
 * }, { port: 0 });
 * const ws = await connect(`ws://127.0.0.1:${server.addr.port}/`, { protocols: ["chat"] });
 * assert.equal(await ws.recv(), "hello chat");
 * assert.equal(await ws.recv(), null); // the handler ended: closed with 1000
 * assert.equal((await ws.closed).code, 1000);
 * await server.shutdown();
 * ```
 */
export async function connect(url: string | URL, opts: ConnectOptions = {}): Promise<WsConn> {
  const u = new URL(url);
  const secure = u.protocol === "wss:" || u.protocol === "https:";
  if (!secure && u.protocol !== "ws:" && u.protocol !== "http:") {
    throw new TypeError(`websocket connect ${u.href}: the scheme must be ws: or wss:`);
  }
  if (u.hash) throw new TypeError(`websocket connect ${u.href}: a URL fragment is not allowed`);
  const protocols = opts.protocols ?? [];
  for (const p of protocols) {
    if (!isToken(p)) throw new TypeError(`websocket connect: invalid subprotocol "${p}"`);
  }
  const bounded = opts.timeout !== undefined || opts.deadline !== undefined;
  const timeout = bounded ? opts.timeout : CONNECT_TIMEOUT;
  const wait = budget({ timeout, deadline: opts.deadline, signal: opts.signal });
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port ? Number(u.port) : secure ? 443 : 80;
  const compress = opts.compress ? (opts.compress === true ? {} : opts.compress) : undefined;
  const key = randomKey();
  const request = requestHead(u, key, protocols, compress, opts.headers);
  const conn = secure
    ? await connectTls(host, port, {
      ...wait,
      caCerts: opts.caCerts,
      dangerouslyDisableHostnameVerification: opts.insecure,
    })
    : await connectTcp(host, port, wait);
  const where = `websocket connect ${u.href}`;
  try {
    if (!secure) conn.setNoDelay(true);
    await conn.write(request, wait);
    const { head, rest } = await readHead(conn, where, wait);
    const answer = await checkResponse(head, key, protocols, compress, where);
    return createWsConn({
      conn,
      head: rest,
      client: true,
      protocol: answer.protocol,
      extensions: answer.extensions,
      deflate: answer.deflate,
      opts,
    });
  } catch (err) {
    conn.close();
    throw err;
  }
}

function requestHead(
  u: URL,
  key: string,
  protocols: string[],
  compress: CompressOptions | undefined,
  extra: ConnectOptions["headers"],
): string {
  let head = `GET ${u.pathname || "/"}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n` +
    `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
    "Sec-WebSocket-Version: 13\r\n";
  if (protocols.length) head += `Sec-WebSocket-Protocol: ${protocols.join(", ")}\r\n`;
  if (compress) head += `Sec-WebSocket-Extensions: ${clientOffer()}\r\n`;
  const fields = extra ? Array.isArray(extra) ? extra : Object.entries(extra) : [];
  for (const [name, value] of fields) {
    if (!isToken(name) || /[\r\n\0]/.test(value)) {
      throw new TypeError(`websocket connect: invalid header field "${name}"`);
    }
    if (RESERVED.has(name.toLowerCase())) {
      throw new TypeError(`websocket connect: header "${name}" is set by the handshake`);
    }
    head += `${name}: ${value}\r\n`;
  }
  return head + "\r\n";
}

// Reads until the end of the response head; returns it and what followed.
async function readHead(
  conn: Conn,
  where: string,
  wait: WaitOptions | undefined,
): Promise<{ head: string; rest: Uint8Array }> {
  let buf = new Uint8Array(0);
  for (;;) {
    const chunk = await conn.read(wait);
    if (chunk === null) throw new ProtocolError(`${where}: connection closed during the handshake`);
    const next = new Uint8Array(buf.length + chunk.length);
    next.set(buf);
    next.set(chunk, buf.length);
    buf = next;
    const end = findEnd(buf, Math.max(0, buf.length - chunk.length - 3));
    if (end >= 0) {
      return { head: decoder.decode(buf.subarray(0, end)), rest: buf.slice(end + 4) };
    }
    if (buf.length > HEAD_MAX) {
      throw new ProtocolError(`${where}: response head longer than ${HEAD_MAX} bytes`);
    }
  }
}

function findEnd(buf: Uint8Array, from: number): number {
  for (let i = from; i + 3 < buf.length; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

async function checkResponse(
  head: string,
  key: string,
  protocols: string[],
  compress: CompressOptions | undefined,
  where: string,
): Promise<{ protocol: string; extensions: string; deflate: Deflate | undefined }> {
  const lines = head.split("\r\n");
  const status = /^HTTP\/1\.1 (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!status) throw new ProtocolError(`${where}: malformed status line "${lines[0]}"`);
  if (status[1] !== "101") {
    throw new ProtocolError(`${where}: server answered ${status[1]} ${status[2] ?? ""}`.trimEnd());
  }
  const fields = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new ProtocolError(`${where}: malformed header line "${line}"`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const list = fields.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    fields.set(name, list);
  }
  const get = (name: string) => fields.get(name) ?? [];
  if (!hasToken(get("upgrade"), "websocket")) {
    throw new ProtocolError(`${where}: response lacks Upgrade: websocket`);
  }
  if (!hasToken(get("connection"), "upgrade")) {
    throw new ProtocolError(`${where}: response lacks Connection: upgrade`);
  }
  const accept = get("sec-websocket-accept");
  if (accept.length !== 1 || accept[0] !== await acceptKey(key)) {
    throw new ProtocolError(`${where}: wrong Sec-WebSocket-Accept`);
  }
  const chosen = tokens(get("sec-websocket-protocol"));
  if (chosen.length > 1 || (chosen.length === 1 && !protocols.includes(chosen[0]))) {
    throw new ProtocolError(
      `${where}: server chose subprotocol "${chosen.join(", ")}", not offered`,
    );
  }
  const extValues = get("sec-websocket-extensions");
  const answers = parseExtensions(extValues);
  if (!answers) throw new ProtocolError(`${where}: malformed Sec-WebSocket-Extensions`);
  let deflate: Deflate | undefined;
  if (answers.length > 0) {
    if (!compress) {
      throw new ProtocolError(`${where}: server chose an extension that was not offered`);
    }
    const params = checkAnswer(answers);
    if (typeof params === "string") throw new ProtocolError(`${where}: ${params}`);
    if (params) deflate = new Deflate(params, compress);
  }
  return { protocol: chosen[0] ?? "", extensions: extValues.join(", "), deflate };
}

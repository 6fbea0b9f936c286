/**
 * Helpers for the HTTP tests: a raw client that sends bytes exactly as
 * given and reads what the server answers, and a response splitter.
 */
import { type Conn, connect } from "../src/socket.ts";
import { type App, type Handler, serve, type ServeOptions, type Server } from "../src/http/mod.ts";
import { selectBackend } from "../src/_backend/select.ts";
import { libc } from "../src/_backend/ffi/libc.ts";

// The ffi backend opens libc once and keeps it for the process: opened as
// the tests load, it is not counted as a leak by a test that asks for
// Deno's resource sanitizer explicitly (which also counts libraries).
if (selectBackend().name === "ffi") libc();

const decoder = new TextDecoder();

/**
 * Connects a test client. Clients use the portable `deno` backend, so the
 * reference peer stays the same whichever backend the server runs on.
 */
export function client(port: number): Promise<Conn> {
  return connect("127.0.0.1", port, { backend: "deno" });
}

/** A parsed raw response. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `request` on a new connection, half-closes unless `keepOpen`,
 * and returns everything the server sent until it closed (or `timeout`).
 */
export async function rawExchange(
  port: number,
  request: string | Uint8Array,
  opts: { halfClose?: boolean; timeout?: number } = {},
): Promise<{ text: string; closed: boolean }> {
  const conn = await client(port);
  try {
    await conn.write(request);
    if (opts.halfClose) await conn.shutdown();
    return await readResponses(conn, Infinity, { timeout: opts.timeout });
  } finally {
    conn.close();
  }
}

/**
 * Reads from `conn` until `count` complete responses arrived (`Infinity`:
 * until the server closes), the server closed, or `timeout` ms passed;
 * returns the text received and whether the server closed.
 */
export async function readResponses(
  conn: Conn,
  count: number,
  opts: { heads?: number[]; timeout?: number } = {},
): Promise<{ text: string; closed: boolean }> {
  const deadline = Date.now() + (opts.timeout ?? 5000);
  let text = "";
  for (;;) {
    const chunk = await conn.read({ deadline }).catch((e) => {
      if (e.code === "timeout") return undefined;
      if (e.code === "connection_reset") return null;
      throw e;
    });
    if (chunk === undefined) return { text, closed: false };
    if (chunk === null) return { text, closed: true };
    text += decoder.decode(chunk, { stream: true });
    if (count !== Infinity && completeResponses(text, opts.heads) >= count) {
      return { text, closed: false };
    }
  }
}

/** Number of complete responses at the start of `text`. */
function completeResponses(text: string, heads?: number[]): number {
  try {
    return parseResponses(text, heads).length;
  } catch {
    return 0;
  }
}

/**
 * Splits a byte stream of responses (fixed-length or chunked bodies);
 * `heads` lists the indexes of responses to HEAD requests (no body).
 * Throws when the last response is incomplete.
 */
export function parseResponses(text: string, heads: number[] = []): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = text;
  while (rest.length > 0) {
    const headEnd = rest.indexOf("\r\n\r\n");
    if (headEnd === -1) throw new Error(`incomplete response head: ${JSON.stringify(rest)}`);
    const lines = rest.slice(0, headEnd).split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(":");
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    rest = rest.slice(headEnd + 4);
    let body = "";
    if (heads.includes(out.length)) {
      // no body
    } else if (headers["transfer-encoding"] === "chunked") {
      for (;;) {
        const lineEnd = rest.indexOf("\r\n");
        const size = parseInt(rest.slice(0, lineEnd), 16);
        if (lineEnd === -1 || !(size >= 0)) throw new Error("incomplete chunked body");
        rest = rest.slice(lineEnd + 2);
        if (size === 0) {
          const trailerEnd = rest.indexOf("\r\n");
          if (trailerEnd === -1) throw new Error("incomplete chunked body");
          rest = rest.slice(trailerEnd + 2);
          break;
        }
        if (rest.length < size + 2) throw new Error("incomplete chunked body");
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
    } else if (headers["content-length"] !== undefined && status !== 304 && status !== 204) {
      const n = Number(headers["content-length"]);
      if (rest.length < n) throw new Error("incomplete response body");
      body = rest.slice(0, n);
      rest = rest.slice(n);
    } else if (status >= 200 && status !== 204 && status !== 304) {
      body = rest;
      rest = "";
    }
    out.push({ status, headers, body });
  }
  return out;
}

/** Runs `fn` with a server on a free port, shutting it down afterwards. */
export async function withServer(
  handler: Handler | App,
  opts: ServeOptions,
  fn: (port: number, server: Server) => Promise<void>,
): Promise<void> {
  const server = await serve(handler, { port: 0, ...opts });
  try {
    await fn(server.addr.port!, server);
  } finally {
    await server.shutdown({ timeout: 2000 });
  }
}

/** Status of the first response in `text` (0 when there is none). */
export function statusOf(text: string): number {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * HTTP/2 on one server: which connections speak it — a TLS connection
 * whose ALPN chose `h2`, a cleartext one that opens with the connection
 * preface (prior knowledge, with `http2: "h2c"`), an HTTP/1.1 request
 * asking for `Upgrade: h2c` — the sweeper that enforces their timeouts,
 * and their graceful end when the server shuts down.
 *
 * @example
 * ```ts ignore
 * const http2 = new Http2Service(server, resolveHttp2("h2c", 16384)!);
 * if (await http2.claim(conn, input)) return; // served as HTTP/2
 * ```
 *
 * @module
 */
import { ClosedError } from "../errors.ts";
import { streamCore } from "../_conn.ts";
import { handleOf } from "../_stream_core.ts";
import type { Conn } from "../socket.ts";
import type { ConnectionHost } from "./_connection.ts";
import type { Input } from "./_input.ts";
import type { HttpRequest } from "./request.ts";
import type { Reply } from "./response.ts";
import { upgrade } from "./_upgrade.ts";
import { PREFACE } from "./_h2_frames.ts";
import { H2Connection } from "./_h2_connection.ts";
import { requestHead } from "./_h2_request.ts";
import type { Http2Config } from "./_h2_options.ts";

/** Request fields that belong to the HTTP/1.1 upgrade, not to the request. */
const UPGRADE_FIELDS = new Set(["connection", "upgrade", "http2-settings", "keep-alive", "te"]);

/** The HTTP/2 side of one server. */
export class Http2Service {
  #host: ConnectionHost;
  #config: Http2Config;
  #conns = new Set<H2Connection>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #every: number;

  /**
   * @param host the server
   * @param config the resolved `http2` option (./_h2_options.ts)
   */
  constructor(host: ConnectionHost, config: Http2Config) {
    this.#host = host;
    this.#config = config;
    const l = host.limits;
    const shortest = Math.min(l.idleTimeout, l.bodyTimeout, l.responseTimeout, 10_000);
    this.#every = Math.max(10, Math.min(1000, Math.floor(shortest / 4)));
  }

  /** True when cleartext HTTP/2 is served too (prior knowledge and `Upgrade: h2c`). */
  get cleartext(): boolean {
    return this.#config.cleartext;
  }

  /** Open HTTP/2 connections. */
  get connections(): number {
    return this.#conns.size;
  }

  /**
   * Serves `conn` as HTTP/2 if it speaks it (resolves true once it
   * ended), or resolves false to leave it to HTTP/1.1 with what `input`
   * read so far.
   */
  async claim(conn: Conn, input: Input): Promise<boolean> {
    const alpn = (handleOf(streamCore(conn)) as { alpnProtocol?: string | null }).alpnProtocol;
    if (alpn !== undefined) {
      if (alpn !== "h2") return false;
      await this.#serve(conn, input.take(input.available).slice());
      return true;
    }
    if (!this.#config.cleartext) return false;
    try {
      while (input.available < PREFACE.length) {
        if (!startsPreface(input)) return false;
        if (!(await input.more("http idle", Date.now() + this.#host.limits.idleTimeout))) {
          return input.available > 0 && startsPreface(input);
        }
      }
    } catch {
      return true; // Idle timeout or shutdown: the connection closes.
    }
    if (!startsPreface(input)) return false;
    await this.#serve(conn, input.take(input.available).slice());
    return true;
  }

  /**
   * `handler`, answering an HTTP/1.1 request that asks for `Upgrade: h2c`
   * (without a body) by switching the connection to HTTP/2, the request
   * becoming stream 1.
   */
  upgrading(
    handler: (req: HttpRequest) => Reply | Promise<Reply>,
  ): (req: HttpRequest) => Reply | Promise<Reply> {
    return (req) => {
      const settings = req.version === "HTTP/1.1" && req.body.done && !req.body.used
        ? upgradeSettings(req)
        : null;
      if (settings === null) return handler(req);
      const fields = [":method", req.method, ":scheme", "http", ":path", req.target];
      for (const [name, value] of req.headers) {
        if (!UPGRADE_FIELDS.has(name)) fields.push(name, value);
      }
      const head = requestHead(fields, 1, false);
      return upgrade(req, [["connection", "Upgrade"], ["upgrade", "h2c"]]).then(
        ({ conn, head: rest }) => this.#serve(conn, rest, { head, settings }),
      );
    };
  }

  /** Graceful end of every HTTP/2 connection: GOAWAY, then close once idle. */
  drain(): void {
    for (const c of this.#conns) c.drain();
  }

  async #serve(
    conn: Conn,
    initial: Uint8Array,
    upgraded?: Parameters<H2Connection["run"]>[1],
  ): Promise<void> {
    const h2 = new H2Connection(conn, this.#host, this.#config);
    this.#conns.add(h2);
    this.#sweeper ??= setInterval(this.#sweep, this.#every);
    if (this.#host.draining) h2.drain();
    try {
      await h2.run(initial, upgraded);
    } catch (err) {
      if (!(err instanceof ClosedError)) throw err;
    } finally {
      this.#conns.delete(h2);
      if (this.#conns.size === 0) {
        clearInterval(this.#sweeper);
        this.#sweeper = undefined;
      }
    }
  }

  #sweep = (): void => {
    const now = Date.now();
    for (const c of this.#conns) c.guard.tick(now);
  };
}

// True when the bytes `input` holds so far begin the connection preface.
function startsPreface(input: Input): boolean {
  const n = Math.min(input.available, PREFACE.length);
  for (let i = 0; i < n; i++) if (input.buf[input.start + i] !== PREFACE[i]) return false;
  return true;
}

// The decoded HTTP2-Settings of a request asking for `Upgrade: h2c`, or null.
function upgradeSettings(req: HttpRequest): Uint8Array | null {
  const up = req.headers.get("upgrade");
  if (up === null || !/(^|,)[ \t]*h2c[ \t]*(,|$)/i.test(up)) return null;
  const all = req.headers.getAll("http2-settings");
  if (all.length !== 1 || !/^[A-Za-z0-9_-]*={0,2}$/.test(all[0])) return null;
  try {
    const bin = atob(all[0].replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, ""));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

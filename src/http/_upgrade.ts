/**
 * Taking a connection over from inside a handler: {@linkcode upgrade}
 * answers `101 Switching Protocols` and hands the raw socket to the
 * handler (the hook a WebSocket module builds on). Not an entry point.
 *
 * @module
 */
import type { Conn } from "../socket.ts";
import { abandon } from "../_wait.ts";
import { isFieldValue, isToken } from "./_ascii.ts";
import type { Body } from "./body.ts";
import type { RequestHead } from "./_parser.ts";
import { type HttpRequest, upgraderOf } from "./request.ts";

/**
 * What a handler gets when it takes the connection over.
 *
 * @example
 * ```ts
 * import type { Upgraded } from "./_upgrade.ts";
 * const echo = async ({ conn, head }: Upgraded) => {
 *   if (head.length > 0) await conn.write(head);
 *   for (let data; (data = await conn.read()) !== null;) await conn.write(data);
 * };
 * ```
 */
export interface Upgraded {
  /** The raw connection; the HTTP engine no longer reads or writes it. */
  conn: Conn;
  /** Bytes the engine had already read past the request head (may be empty). */
  head: Uint8Array;
}

/** What is called when an upgraded handler has ended (its error, `undefined` if it returned). */
export type UpgradeEnd = (error: unknown) => void | Promise<void>;

/**
 * The connection side of {@linkcode upgrade}: checks that `req` is the
 * exchange whose handler runs and that it can switch, then writes `response` (the complete 101 head) after any earlier
 * pipelined response and resolves once it is written.
 */
export type Upgrader = (
  req: HttpRequest,
  response: Uint8Array,
  onEnd: UpgradeEnd | undefined,
) => Promise<Upgraded>;

const encoder = new TextEncoder();
const STATUS_LINE = "HTTP/1.1 101 Switching Protocols\r\n";

/**
 * The bytes of a `101 Switching Protocols` head with `headers`, as given
 * (the engine adds nothing but the status line). Framing fields
 * (Content-Length, Transfer-Encoding) and invalid names or values are
 * refused with a `TypeError`.
 *
 * @example
 * ```ts
 * import { switchingHead } from "./_upgrade.ts";
 * const head = new TextDecoder().decode(switchingHead([["upgrade", "echo"]]));
 * if (head !== "HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\n\r\n") throw new Error(head);
 * ```
 */
export function switchingHead(headers: ReadonlyArray<readonly [string, string]>): Uint8Array {
  let head = STATUS_LINE;
  for (const [name, value] of headers) {
    if (typeof name !== "string" || !isToken(name)) {
      throw new TypeError(`http upgrade: invalid header name ${JSON.stringify(name)}`);
    }
    if (typeof value !== "string" || !isFieldValue(value)) {
      throw new TypeError(
        `http upgrade: invalid value for header "${name}": control characters (CR, LF, ...) are refused`,
      );
    }
    const lower = name.toLowerCase();
    if (lower === "content-length" || lower === "transfer-encoding") {
      throw new TypeError(`http upgrade: a 101 response has no body; "${name}" is refused`);
    }
    head += name + ": " + value + "\r\n";
  }
  return encoder.encode(head + "\r\n");
}

/**
 * Inside a handler: writes `HTTP/1.1 101 Switching Protocols` with
 * `headers` (the engine adds nothing but the status line; framing fields
 * and invalid field values are refused with a `TypeError`), flushes it
 * after any earlier pipelined response, and ends HTTP on this connection.
 *
 * The handler keeps running in the connection's task and owns the socket;
 * whatever it then returns is ignored. When the handler returns or
 * throws, `onEnd(error)` is awaited first (`error` is `undefined` when it
 * returned; the wait is bounded by the server's `drainTimeout`), then the
 * engine closes the socket. During a graceful shutdown an upgraded
 * connection counts as a busy handler: the server waits for it until the
 * shutdown deadline, then cancels the task (its waits, and so `onEnd`, see
 * `Cancelled`) and closes the socket. A handler error with no `onEnd` is
 * reported like any handler failure.
 *
 * Refused with a `TypeError` when the request cannot switch: it is not
 * the exchange whose handler runs now, a response was already started,
 * its body is not fully read, it is HTTP/1.0, it does not offer an
 * upgrade (an `Upgrade` field and the `upgrade` option in `Connection`),
 * or `upgrade` was already called for it. A request that offers an
 * upgrade is not watched for the client going away while its handler
 * runs (the socket is left unread for the new protocol).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "./mod.ts";
 * import { upgrade } from "./_upgrade.ts";
 * import { connect } from "../socket.ts";
 * const server = await serve(async (req) => {
 *   const { conn, head } = await upgrade(req, [["connection", "upgrade"], ["upgrade", "echo"]]);
 *   if (head.length > 0) await conn.write(head);
 *   for (let data; (data = await conn.read()) !== null;) await conn.write(data);
 * }, { port: 0 });
 * const client = await connect("127.0.0.1", server.addr.port!);
 * await client.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nhi");
 * let text = "";
 * while (!text.endsWith("hi")) text += new TextDecoder().decode((await client.read())!);
 * assert.ok(text.startsWith("HTTP/1.1 101 Switching Protocols\r\n"));
 * client.close();
 * await server.shutdown();
 * ```
 */
export function upgrade(
  req: HttpRequest,
  headers: [string, string][],
  onEnd?: (error: unknown) => void | Promise<void>,
): Promise<Upgraded> {
  let response: Uint8Array;
  try {
    if (!Array.isArray(headers)) {
      throw new TypeError("http upgrade: headers must be a list of pairs");
    }
    response = switchingHead(headers);
  } catch (err) {
    return Promise.reject(err);
  }
  return upgraderOf(req)(req, response, onEnd);
}

/**
 * Why the exchange of `req` (its parsed `head`, its `body`) cannot switch
 * protocols, or `""` when it can (the connection checks that its handler
 * runs and no response began).
 */
export function upgradeRefusal(req: HttpRequest, head: RequestHead, body: Body): string {
  if (head.minor !== 1) return "HTTP/1.0 cannot switch protocols";
  if (!body.done) return "the request body is not fully read";
  if (!head.upgrade || !req.headers.has("upgrade")) {
    return "the request does not offer an upgrade (Upgrade and Connection: upgrade)";
  }
  return "";
}

/** The connection side of a handler that took its connection over. */
export class Takeover {
  /** The request whose handler took over. */
  readonly req: HttpRequest;
  /** The 101 head's write, once started. */
  sent: Promise<void> | undefined = undefined;
  /** The handler's promise while it runs on, `null` once it has ended. */
  reply: Promise<unknown> | null = null;
  /** What the handler threw, when it has ended by throwing. */
  error: unknown = undefined;
  #onEnd: UpgradeEnd | undefined;

  /**
   * @param req the request whose handler took over
   * @param onEnd what upgrade() was given
   */
  constructor(req: HttpRequest, onEnd: UpgradeEnd | undefined) {
    this.req = req;
    this.#onEnd = onEnd;
  }

  /**
   * The handler ended with `error` (`undefined` when it returned): waits
   * for the 101 write, then for onEnd up to `graceMs`, not tied to the
   * task (which may be cancelled). Without onEnd, an error that is not
   * `quiet` is reported, as is an onEnd that fails.
   */
  async end(
    error: unknown,
    quiet: boolean,
    graceMs: number,
    report: (err: unknown, req: HttpRequest) => void,
  ): Promise<void> {
    if (this.sent) await this.sent.catch(() => {});
    const onEnd = this.#onEnd;
    if (onEnd === undefined) {
      if (!quiet) report(error, this.req);
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const result = onEnd(error);
      if (!(result instanceof Promise)) return;
      abandon(result);
      const expired = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
      await Promise.race([result, expired]);
    } catch (err) {
      report(err, this.req);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The option and result types of a WebSocket connection, shared by the
 * server and client sides.
 *
 * @module
 */
import type { Conn } from "../socket.ts";
import type { Deflate } from "./_deflate.ts";

/**
 * How a connection ended: the close code and reason (the peer's, after a
 * closing handshake; ours, after we failed the connection for bad input;
 * 1006 when it ended without a close frame, 1005 when the close frame had
 * no code), and whether the closing handshake completed.
 *
 * @example
 * ```ts
 * import type { CloseInfo } from "@lunet/lunet/ws";
 * const info: CloseInfo = { code: 1000, reason: "bye", wasClean: true };
 * ```
 */
export interface CloseInfo {
  /** The close code. */
  code: number;
  /** The close reason (UTF-8 text, at most 123 bytes). */
  reason: string;
  /** True when close frames went both ways before the socket closed. */
  wasClean: boolean;
}

/**
 * Options both sides share.
 *
 * @example
 * ```ts
 * import type { WebSocketOptions } from "@lunet/lunet/ws";
 * const opts: WebSocketOptions = { maxMessageBytes: 1 << 20, pingInterval: 10_000 };
 * ```
 */
export interface WebSocketOptions {
  /** Largest message accepted, after decompression (default 16 MiB); larger ones close with 1009. */
  maxMessageBytes?: number;
  /** Close with 1001 after this many ms without receiving anything (default 0: never). */
  idleTimeout?: number;
  /**
   * Send a ping every this many ms, and drop the connection (1006) when the
   * pong has not come by the next one (default 30 000 on the server, 0 on
   * the client; 0 disables).
   */
  pingInterval?: number;
  /** How long the closing handshake may take before the socket is closed anyway (default 5000 ms). */
  closeTimeout?: number;
  /**
   * Bytes that may wait to be written before a publication to this
   * connection drops it as too slow, closing with 1013 (default 1 MiB).
   */
  maxBufferedBytes?: number;
}

/** What the handshake decided (used by `accept` and `connect`, not by users). */
export interface WsSetup {
  conn: Conn;
  head: Uint8Array;
  client: boolean;
  protocol: string;
  extensions: string;
  deflate: Deflate | undefined;
  opts: WebSocketOptions;
}

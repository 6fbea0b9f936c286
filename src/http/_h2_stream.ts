/**
 * One HTTP/2 stream on the server side: its state (RFC 9113 section 5.1),
 * its two flow-control windows, the request body queue, and DATA sending
 * that waits for window — the stream's and the connection's — with a
 * stall timeout, so a body writer is held back by a client that grants no
 * window and released (or failed) when it does (or does not).
 *
 * @example
 * ```ts ignore
 * const stream = new H2Stream(1, conn, 65535, 65535);
 * await stream.send(new TextEncoder().encode("hello"), true);
 * ```
 *
 * @module
 */
import { Cancelled, TimeoutError } from "../errors.ts";
import { park } from "../_wait.ts";
import type { Task } from "../task.ts";
import {
  CANCEL,
  DATA,
  END_STREAM,
  ENHANCE_YOUR_CALM,
  H2ConnectionError,
  H2StreamError,
} from "./_h2_frames.ts";
import type { H2BodySource } from "./_h2_body_source.ts";
import type { H2Output } from "./_h2_output.ts";
import type { Input } from "./_input.ts";

/** What a stream needs from its connection. */
export interface StreamHost {
  /** The connection's output. */
  readonly out: H2Output;
  /** The connection's send window. */
  sendWindow: number;
  /** The largest DATA payload the peer takes. */
  readonly maxFrame: number;
  /** Longest wait for window before giving up (ms). */
  readonly stallTimeout: number;
  /** Streams waiting for connection window. */
  readonly blocked: Set<H2Stream>;
  /** Fails the connection (a stall on its window). */
  fail(err: H2ConnectionError): void;
}

/** A server-side stream. */
export class H2Stream {
  /** The stream id. */
  readonly id: number;
  /** Our send window for this stream. */
  sendWindow: number;
  /** The receive window we granted and the peer has not used yet. */
  recvWindow: number;
  /** Received bytes read by the handler and not yet credited back. */
  unacked = 0;
  /** The peer ended its side (END_STREAM received). */
  remoteClosed = false;
  /** We ended our side (END_STREAM sent). */
  localClosed = false;
  /** Reset by either side; `resetCode` says why. */
  reset = false;
  resetCode = 0;
  /** Declared request Content-Length (-1: none), and the body bytes received. */
  contentLength = -1;
  received = 0;
  /** The request body queue (null: no body). */
  body: H2BodySource | null = null;
  /** The task running the handler. */
  task: Task<void> | undefined = undefined;
  /** True once the response head was sent. */
  responded = false;
  /** The request body input (null: no body), whose wait deadline the sweeper enforces. */
  input: Input | null = null;
  /** Epoch ms the handler started (for the response timeout), 0 once it answered. */
  startedAt = 0;
  #host: StreamHost;
  #wake: ((err?: unknown) => void) | null = null;

  /**
   * @param id the stream id
   * @param host the connection
   * @param sendWindow the peer's initial window
   * @param recvWindow the initial window we announced
   */
  constructor(id: number, host: StreamHost, sendWindow: number, recvWindow: number) {
    this.id = id;
    this.#host = host;
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  /** True once both sides ended, or the stream was reset. */
  get closed(): boolean {
    return this.reset || (this.remoteClosed && this.localClosed);
  }

  /** Window was granted (or the stream was reset): wakes a waiting send. */
  wake(err?: unknown): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.(err);
  }

  /**
   * Sends `data` as DATA frames, ending the stream after it when `end`;
   * synchronous while window and output room allow.
   */
  send(data: Uint8Array, end: boolean): void | Promise<void> {
    const host = this.#host, out = host.out;
    let at = 0;
    while (at < data.length) {
      this.#check();
      const n = Math.min(data.length - at, this.sendWindow, host.sendWindow, host.maxFrame);
      if (n <= 0 || out.full) return this.#sendLater(data, at, end);
      const last = end && at + n === data.length;
      out.frame(DATA, last ? END_STREAM : 0, this.id, data, at, at + n);
      if (last) this.localClosed = true;
      this.sendWindow -= n;
      host.sendWindow -= n;
      at += n;
    }
    if (end && !this.localClosed) {
      this.#check();
      out.frame(DATA, END_STREAM, this.id, null);
      this.localClosed = true;
    }
  }

  async #sendLater(data: Uint8Array, at: number, end: boolean): Promise<void> {
    const host = this.#host;
    for (;;) {
      const room = host.out.room();
      if (room) await room;
      this.#check();
      if (this.sendWindow > 0 && host.sendWindow > 0) break;
      await this.#waitWindow();
    }
    const rest = this.send(at === 0 ? data : data.subarray(at), end);
    if (rest) await rest;
  }

  #check(): void {
    if (this.reset) throw new Cancelled(`http2 stream ${this.id}: reset`);
  }

  // Waits for window, up to the stall timeout: a stream window that stays
  // shut resets the stream (CANCEL), a connection window the connection.
  async #waitWindow(): Promise<void> {
    const host = this.#host;
    const onConnection = this.sendWindow > 0;
    if (onConnection) host.blocked.add(this);
    try {
      await park<void>(
        `http2 stream ${this.id}: window`,
        { timeout: host.stallTimeout },
        (ok, no) => {
          this.#wake = (err) => err === undefined ? ok() : no(err);
          return () => this.#wake = null;
        },
      );
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err;
      if (onConnection) {
        host.fail(new H2ConnectionError(ENHANCE_YOUR_CALM, "connection window stalled"));
      } else throw new H2StreamError(CANCEL, this.id, "stream window stalled");
      throw err;
    } finally {
      host.blocked.delete(this);
    }
  }
}

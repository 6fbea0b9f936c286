/**
 * One WebSocket connection, server or client side: messages in and out,
 * pings, the closing handshake, topics. A reader per connection answers
 * pings, notices the peer's close and fills a small bounded queue that
 * `recv` takes from; when the queue is full the reader stops reading, so
 * a peer cannot make it grow. On a backend with readiness waits (ffi) the
 * reader has no task: the socket's readiness calls it, and it parses
 * frames straight from the worker's shared read buffer,
 * and a frame whose write completes at once is encoded into a shared
 * buffer too, so an idle connection holds no buffer and a busy one
 * allocates little per message.
 *
 * @module
 */
import { ClosedError } from "../errors.ts";
import { newTask } from "../task.ts";
import { park, storage, type WaitOptions } from "../_wait.ts";
import { captureContext, type CapturedContext, runInContext } from "../_context.ts";
import {
  closePayload,
  encodeFrame,
  frameSize,
  isValidCloseCode,
  MAX_CONTROL,
  OP_BINARY,
  OP_CLOSE,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  writeFrame,
} from "./_frame.ts";
import { CLOSE, FAIL, MESSAGE, PING, PONG, Receiver } from "./_receiver.ts";
import { type Deliver, hub, type SharedFrame } from "./_hub.ts";
import { PingWaiters } from "./_pings.ts";
import { scratch } from "./_scratch.ts";
import { Inbox } from "./_inbox.ts";
import { Messages } from "./_messages.ts";
import { IDLE, Keepalive, LOST, PING as KEEP_PING } from "./_keepalive.ts";
import type { CloseInfo, WsSetup } from "./options.ts";
import type { Conn } from "../socket.ts";
import { type StreamCore, streamCore } from "../_conn.ts";
import type { Deflate } from "./_deflate.ts";

const OPEN = 0, CLOSING = 1, CLOSED = 2;
const encoder = new TextEncoder();
const DONE: Promise<void> = Promise.resolve();

let makeWsConn: (setup: WsSetup) => WsConn;

/**
 * Makes the connection object once a handshake has succeeded (the
 * constructor is private; `accept` and `connect` call this).
 */
export function createWsConn(setup: WsSetup): WsConn {
  return makeWsConn(setup);
}

/**
 * A WebSocket connection, from {@linkcode accept} (server) or
 * {@linkcode connect} (client). `recv` returns the next message (a string
 * for text, a `Uint8Array` for binary) or `null` once the connection is
 * closing; `send` resolves when the frame is written, so a peer that does
 * not read holds the sender back. Every wait takes lunet `WaitOptions`
 * and wakes when the calling task is cancelled.
 *
 * @example Echo with a client
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "@lunet/lunet/http";
 * import { accept, connect } from "@lunet/lunet/ws";
 * const server = await serve(async (req) => {
 *   const ws = await accept(req);
 *   for await (const msg of ws) await ws.send(msg);
 * }, { port: 0 });
 * const ws = await connect(`ws://127.0.0.1:${server.addr.port}/`);
 * await ws.send("hello");
 * assert.equal(await ws.recv(), "hello");
 * const info = await ws.close(1000, "done");
 * assert.equal(info.code, 1000);
 * await server.shutdown();
 * ```
 */
export class WsConn implements AsyncIterable<string | Uint8Array>, AsyncDisposable {
  /** The subprotocol agreed in the handshake, or `""`. */
  readonly protocol: string;
  /** The extensions agreed in the handshake (`Sec-WebSocket-Extensions`), or `""`. */
  readonly extensions: string;
  readonly #conn: Conn;
  readonly #core: StreamCore;
  // The backend has readiness waits (ffi): read and write synchronously.
  readonly #pollable: boolean;
  readonly #client: boolean;
  readonly #deflate: Deflate | undefined;
  readonly #receiver: Receiver;
  readonly #closeTimeout: number;
  readonly #maxBuffered: number;
  readonly #inbox = new Inbox();
  #state = OPEN;
  #closeSent = false;
  #peerClose: CloseInfo | undefined;
  #failure: CloseInfo | undefined;
  #info: CloseInfo | undefined;
  // Made when first asked for.
  #closed: Promise<CloseInfo> | undefined;
  #settleClosed: ((info: CloseInfo) => void) | undefined;
  #buffered = 0;
  #pings: PingWaiters | undefined;
  // Ping and idle deadlines, when there are any.
  readonly #keepalive: Keepalive | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #ctx: CapturedContext | undefined;
  #control: Promise<void> | undefined;
  #topics: Set<string> | undefined;
  #deliverFn: Deliver | undefined;

  static {
    makeWsConn = (setup) => new WsConn(setup);
  }

  /** @ignore */
  private constructor(setup: WsSetup) {
    const opts = setup.opts;
    this.#conn = setup.conn;
    this.#core = streamCore(setup.conn);
    this.#pollable = this.#core.pollable;
    this.#client = setup.client;
    this.protocol = setup.protocol;
    this.extensions = setup.extensions;
    this.#deflate = setup.deflate;
    this.#closeTimeout = opts.closeTimeout ?? 5000;
    this.#maxBuffered = opts.maxBufferedBytes ?? 1 << 20;
    const pingEvery = opts.pingInterval ?? (setup.client ? 0 : 30_000);
    const idle = opts.idleTimeout ?? 0;
    if (pingEvery > 0 || idle > 0) {
      this.#keepalive = new Keepalive((event) => this.#keepaliveEvent(event), pingEvery, idle);
    }
    const max = opts.maxMessageBytes ?? 16 << 20;
    this.#receiver = new Receiver(
      (event, data, code, reason) => this.#event(event, data, code, reason),
      !setup.client,
      max,
      setup.deflate,
    );
    if (this.#pollable) {
      this.#startPump(setup.head);
      return;
    }
    // The task may keep its function: let it hold neither setup nor head.
    let head: Uint8Array | undefined = setup.head;
    newTask(
      () => {
        const bytes = head;
        head = undefined;
        return this.#run(bytes);
      },
      "ws reader",
      undefined,
    );
  }

  /**
   * Resolves once the connection is closed, with how it ended. It never
   * rejects. {@linkcode WsConn.closeInfo} gives the same value at once.
   */
  get closed(): Promise<CloseInfo> {
    return this.#closed ??= this.#info
      ? Promise.resolve(this.#info)
      : new Promise((resolve) => this.#settleClosed = resolve);
  }

  /** How the connection ended, or `undefined` while it is still open or closing. */
  get closeInfo(): CloseInfo | undefined {
    return this.#info;
  }

  /** Bytes given to `send` (and publications) that are not written yet. */
  get bufferedAmount(): number {
    return this.#buffered;
  }

  /**
   * Sends one message: a string as text, bytes as binary. Resolves when
   * the frame is written; fails with `ClosedError` once the connection is
   * closing. A send given up part-way (timeout, cancelled task) closes the
   * connection, since the peer would see a truncated frame.
   */
  send(data: string | Uint8Array, opts?: WaitOptions): Promise<void> {
    if (this.#closeSent || this.#state !== OPEN) {
      return Promise.reject(new ClosedError("websocket send"));
    }
    const text = typeof data === "string";
    const payload = text ? encoder.encode(data) : data;
    if (opts !== undefined || !this.#pollable) {
      return this.#write(this.#frame(payload, text), opts);
    }
    // Encoded into the shared buffer; a write that cannot complete at
    // once keeps it.
    const d = this.#deflate;
    const squeeze = d !== undefined && payload.length >= d.threshold;
    const body = squeeze ? d.compress(payload) : payload;
    const buf = scratch.frame(frameSize(body.length, this.#client));
    const frame = writeFrame(buf, text ? OP_TEXT : OP_BINARY, body, this.#client, squeeze);
    const pending = this.#core.writeNow(frame);
    if (pending === undefined) return DONE;
    scratch.lose(buf);
    return this.#track(pending, frame.length);
  }

  /**
   * The next message, or `null` once no more will come (the peer closed,
   * the connection failed, or `close` was called); messages that arrived
   * before stay readable. An early wake (timeout, cancel) loses nothing.
   */
  recv(opts?: WaitOptions): Promise<string | Uint8Array | null> {
    return this.#inbox.recv(opts);
  }

  /** Yields messages until `recv` returns `null`. */
  [Symbol.asyncIterator](): AsyncIterableIterator<string | Uint8Array, void, undefined> {
    return new Messages(this);
  }

  /**
   * Sends a ping (at most 125 bytes of payload) and resolves with the
   * round-trip time in ms when its pong arrives.
   */
  ping(data?: string | Uint8Array, opts?: WaitOptions): Promise<number> {
    const payload = typeof data === "string" ? encoder.encode(data) : data ?? new Uint8Array(0);
    if (payload.length > MAX_CONTROL) {
      return Promise.reject(new RangeError("websocket ping: payload longer than 125 bytes"));
    }
    if (this.#closeSent || this.#state !== OPEN) {
      return Promise.reject(new ClosedError("websocket ping"));
    }
    return park<number>("websocket ping", opts, (resolve, reject) => {
      const forget = (this.#pings ??= new PingWaiters()).add(payload, resolve, reject);
      this.#internal(encodeFrame(OP_PING, payload, this.#client));
      return forget;
    });
  }

  /**
   * Starts the closing handshake (code 1000 by default; 1000, 1001,
   * 1008, 1011, 3000–4999 are the usual ones) and resolves once the
   * connection is closed: when the peer's close frame has come and the
   * socket is closed, or after `closeTimeout`. `opts` bounds only the
   * wait, not the handshake. Calling it again just waits.
   */
  async close(code = 1000, reason = "", opts?: WaitOptions): Promise<CloseInfo> {
    if (!isValidCloseCode(code)) throw new RangeError(`websocket close: invalid code ${code}`);
    const bytes = closePayload(code, reason);
    if (bytes.length > MAX_CONTROL) {
      throw new RangeError("websocket close: reason longer than 123 bytes");
    }
    if (this.#state === OPEN && !this.#closeSent) this.#startClose(bytes);
    return this.#info ?? await park<CloseInfo>("websocket close", opts, (resolve) => {
      this.closed.then(resolve);
    });
  }

  /** Closes with 1000 (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Receives what is published to `topic` (in this process, every worker). */
  subscribe(topic: string): void {
    if (this.#state !== OPEN || this.#closeSent) throw new ClosedError("websocket subscribe");
    const deliver = this.#deliverFn ??= (data, shared) => this.#deliver(data, shared);
    if (hub.add(topic, this, deliver)) (this.#topics ??= new Set()).add(topic);
  }

  /** Stops receiving what is published to `topic`. */
  unsubscribe(topic: string): void {
    if (hub.remove(topic, this)) this.#topics?.delete(topic);
  }

  // A publication for this connection: the shared frame when it fits, or
  // our own (masked, or compressed). Too much unwritten drops it as slow.
  #deliver(data: string | Uint8Array, shared: SharedFrame): void {
    if (this.#closeSent || this.#state !== OPEN) return;
    const text = typeof data === "string";
    const bytes = shared.bytes ??= text ? encoder.encode(data) : data;
    if (this.#buffered + bytes.length > this.#maxBuffered) {
      this.#fail(1013, "subscriber too slow");
      return;
    }
    let frame: Uint8Array;
    if (this.#client || (this.#deflate && bytes.length >= this.#deflate.threshold)) {
      frame = this.#frame(bytes, text);
    } else frame = shared.plain ??= encodeFrame(text ? OP_TEXT : OP_BINARY, bytes, false);
    runInContext(this.#ctx!, () => this.#write(frame, undefined)).catch(ignore);
  }

  #frame(payload: Uint8Array, text: boolean): Uint8Array {
    const op = text ? OP_TEXT : OP_BINARY;
    const d = this.#deflate;
    if (d && payload.length >= d.threshold) {
      return encodeFrame(op, d.compress(payload), this.#client, true);
    }
    return encodeFrame(op, payload, this.#client);
  }

  #write(frame: Uint8Array, opts: WaitOptions | undefined): Promise<void> {
    return this.#track(this.#conn.write(frame, opts), frame.length);
  }

  // Counts `n` bytes as buffered until `write` settles.
  #track(write: Promise<void>, n: number): Promise<void> {
    this.#buffered += n;
    return write.then(() => {
      this.#buffered -= n;
    }, (err) => {
      this.#buffered -= n;
      throw err;
    });
  }

  // A frame written by the connection itself (pong, ping, close), in the
  // reader's context, so no caller's cancellation cuts it short.
  #internal(frame: Uint8Array): void {
    const p = runInContext(this.#ctx!, () => this.#conn.write(frame));
    p.catch(ignore);
    this.#control = p;
  }

  // What the receiver found.
  #event(event: number, data: string | Uint8Array | undefined, code: number, reason: string): void {
    if (event === MESSAGE) this.#inbox.put(data!);
    else if (event === PING) {
      if (!this.#closeSent) {
        this.#internal(encodeFrame(OP_PONG, data as Uint8Array, this.#client));
      }
    } else if (event === PONG) {
      this.#keepalive?.ponged();
      this.#pings?.answered(data as Uint8Array);
    } else if (event === CLOSE) {
      this.#peerClose = { code, reason, wasClean: true };
      if (!this.#closeSent) {
        this.#startClose(closePayload(code === 1005 ? undefined : code, reason));
      } else this.#end();
    } else if (event === FAIL) this.#fail(code, reason);
  }

  #fail(code: number, reason: string): void {
    if (this.#state === CLOSED) return;
    this.#failure ??= { code, reason, wasClean: false };
    if (!this.#closeSent) this.#startClose(closePayload(code, reason.slice(0, 100)));
  }

  // Sends our close frame; the socket is closed when the handshake ends
  // or after the close timeout.
  #startClose(payload: Uint8Array): void {
    this.#closeSent = true;
    this.#state = CLOSING;
    this.#internal(encodeFrame(OP_CLOSE, payload, this.#client));
    this.#closeTimer ??= setTimeout(() => this.#kill(), this.#closeTimeout);
    this.#leaveTopics();
    this.#end();
  }

  // A closing connection takes no more publications.
  #leaveTopics(): void {
    if (this.#topics) { for (const t of this.#topics) hub.remove(t, this); }
    this.#topics = undefined;
  }

  // No more messages will be handed out: wake a parked recv and reader.
  #end(): void {
    this.#inbox.end();
  }

  #kill(): void {
    this.#closeTimer = undefined;
    this.#conn.close();
    this.#inbox.wake();
  }

  // The reader without readiness waits (`deno` backend): a task.
  async #run(head: Uint8Array | undefined): Promise<void> {
    this.#ctx = captureContext();
    this.#keepalive?.start();
    const conn = this.#conn, receiver = this.#receiver, inbox = this.#inbox;
    try {
      if (head!.length > 0) receiver.push(head!);
      // The suspended reader keeps its locals: let the head go.
      head = undefined;
      while (!receiver.done) {
        if (this.#control && !this.#closeSent) {
          await this.#control;
          this.#control = undefined;
        }
        if (inbox.full) {
          await new Promise<void>((resolve) => inbox.onRoom(resolve));
          continue;
        }
        const chunk = await conn.read();
        if (chunk === null) break;
        this.#keepalive?.seen();
        receiver.push(chunk);
      }
    } catch {
      // A reset, our own close after the timeout: the end either way.
      return this.#settle();
    }
    await this.#finish();
  }

  // The reader with readiness waits (`ffi`): no task of its own. Its
  // writes (pongs, close frames) belong to no task, so no caller's
  // cancellation cuts them short.
  #startPump(head: Uint8Array): void {
    this.#ctx = storage.run(undefined as never, captureContext, undefined);
    this.#keepalive?.start();
    try {
      if (head.length > 0) this.#receiver.push(head);
    } catch {
      return this.#settle();
    }
    this.#pump();
  }

  // Reads and parses what the socket has, straight from the shared buffer,
  // until it would wait; then asks to be called again when the socket is
  // readable, the inbox has room, or a control frame is written.
  #pump = (): void => {
    const receiver = this.#receiver, core = this.#core;
    try {
      while (!receiver.done) {
        if (this.#control !== undefined && !this.#closeSent) {
          this.#control.then(this.#controlWritten, this.#controlWritten);
          return;
        }
        if (this.#inbox.full) return this.#inbox.onRoom(this.#pump);
        const buf = scratch.read();
        const n = core.readNow(buf);
        if (n === -1) return core.onReadable(this.#pump);
        if (n === null) break;
        this.#keepalive?.seen();
        receiver.push(buf, n, true);
      }
    } catch {
      return this.#settle();
    }
    runInContext(this.#ctx!, () => this.#finish());
  };

  #controlWritten = (): void => {
    this.#control = undefined;
    this.#pump();
  };

  // The frames are done or the peer ended its side. After the close
  // frames the server ends the TCP stream first; both sides read until
  // the peer's end.
  async #finish(): Promise<void> {
    try {
      if (this.#receiver.done) {
        if (!this.#client) await this.#conn.shutdown();
        while (await this.#conn.read() !== null);
      }
    } catch {
      // A reset, our own close after the timeout: the end either way.
    }
    this.#settle();
  }

  #settle(): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    this.#conn.close();
    this.#keepalive?.stop();
    clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    const peer = this.#peerClose;
    const info = this.#failure ??
      (peer && this.#closeSent ? peer : { code: 1006, reason: this.#why, wasClean: false });
    this.#info = info;
    this.#end();
    this.#pings?.rejectAll(() => new ClosedError("websocket ping"));
    this.#leaveTopics();
    this.#settleClosed?.(info);
  }

  #why = "";

  // The deadlines ask (see _keepalive.ts).
  #keepaliveEvent(event: number): boolean {
    if (this.#state !== OPEN || this.#closeSent) return false;
    if (event === IDLE) this.#startClose(closePayload(1001, "idle timeout"));
    else if (event === LOST) {
      this.#why = "no pong";
      this.#kill();
    } else if (event === KEEP_PING) {
      this.#internal(encodeFrame(OP_PING, new Uint8Array(0), this.#client));
    }
    return true;
  }
}

function ignore(): void {}

/**
 * One WebSocket connection, server or client side: messages in and out,
 * pings, the closing handshake, topics. A reader task per connection
 * answers pings, notices the peer's close and fills a small bounded queue
 * that `recv` takes from; when the queue is full the reader stops reading,
 * so a peer cannot make it grow. On a backend with readiness waits (ffi)
 * the reader parses frames straight from the worker's shared read buffer,
 * and a frame whose write completes at once is encoded into a shared
 * buffer too, so an idle connection holds no buffer and a busy one
 * allocates little per message.
 *
 * @module
 */
import { ClosedError } from "../errors.ts";
import { newTask } from "../task.ts";
import { park, type WaitOptions } from "../_wait.ts";
import { captureContext, type CapturedContext, runInContext } from "../context.ts";
import {
  closePayload,
  encodeFrame,
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
import type { CloseInfo, WsSetup } from "./options.ts";
import type { Conn } from "../socket.ts";
import { type StreamCore, streamCore } from "../_conn.ts";
import type { Deflate } from "./_deflate.ts";

const OPEN = 0, CLOSING = 1, CLOSED = 2;
const QUEUE_MESSAGES = 64, QUEUE_BYTES = 1 << 20;
const encoder = new TextEncoder();
const DONE: Promise<void> = Promise.resolve();
const END: IteratorReturnResult<undefined> = { done: true, value: undefined };

interface Waiter {
  resolve(value: string | Uint8Array | null): void;
  reject(err: unknown): void;
}

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
  readonly #pingEvery: number;
  readonly #idle: number;
  #queue: Array<string | Uint8Array> | undefined;
  #qHead = 0;
  #qBytes = 0;
  #waiter: Waiter | undefined;
  #room: (() => void) | undefined;
  #state = OPEN;
  #ended = false;
  #closeSent = false;
  #peerClose: CloseInfo | undefined;
  #failure: CloseInfo | undefined;
  #info: CloseInfo | undefined;
  // Made when first asked for.
  #closed: Promise<CloseInfo> | undefined;
  #settleClosed: ((info: CloseInfo) => void) | undefined;
  #buffered = 0;
  #pings: PingWaiters | undefined;
  #awaitingPong = false;
  #nextPing = 0;
  #lastSeen = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #ctx: CapturedContext | undefined;
  #control: Promise<void> | undefined;
  #topics: Set<string> | undefined;
  #deliverFn: Deliver | undefined;
  #tickFn: (() => void) | undefined;

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
    this.#pingEvery = opts.pingInterval ?? (setup.client ? 0 : 30_000);
    this.#idle = opts.idleTimeout ?? 0;
    const max = opts.maxMessageBytes ?? 16 << 20;
    this.#receiver = new Receiver(
      (event, data, code, reason) => this.#event(event, data, code, reason),
      !setup.client,
      max,
      setup.deflate,
    );
    newTask(() => this.#run(setup.head), "ws reader", undefined);
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
    const buf = scratch.frame(body.length, this.#client);
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
    if (this.#queued() > 0) return Promise.resolve(this.#take());
    if (this.#ended) return Promise.resolve(null);
    if (this.#waiter) return Promise.reject(new Error("websocket recv: another recv is waiting"));
    return park<string | Uint8Array | null>("websocket recv", opts, (resolve, reject) => {
      this.#waiter = { resolve, reject };
      return () => this.#waiter = undefined;
    });
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

  #take(): string | Uint8Array {
    const queue = this.#queue!;
    const msg = queue[this.#qHead];
    queue[this.#qHead++] = undefined!;
    this.#qBytes -= msg.length;
    if (this.#qHead === queue.length) {
      this.#queue = undefined;
      this.#qHead = 0;
    }
    const room = this.#room;
    if (room) {
      this.#room = undefined;
      room();
    }
    return msg;
  }

  // What the receiver found.
  #event(event: number, data: string | Uint8Array | undefined, code: number, reason: string): void {
    if (event === MESSAGE) {
      if (this.#ended) return;
      const w = this.#waiter;
      if (w) {
        this.#waiter = undefined;
        w.resolve(data!);
        return;
      }
      (this.#queue ??= []).push(data!);
      this.#qBytes += data!.length;
    } else if (event === PING) {
      if (!this.#closeSent) {
        this.#internal(encodeFrame(OP_PONG, data as Uint8Array, this.#client));
      }
    } else if (event === PONG) {
      this.#awaitingPong = false;
      this.#pings?.answered(data as Uint8Array);
    } else if (event === CLOSE) {
      this.#peerClose = { code, reason, wasClean: true };
      if (!this.#closeSent) {
        this.#startClose(closePayload(code === 1005 ? undefined : code, reason));
      } else this.#end();
    } else if (event === FAIL) this.#fail(code, reason);
  }

  #queued(): number {
    return this.#queue === undefined ? 0 : this.#queue.length - this.#qHead;
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
    this.#ended = true;
    if (this.#queued() === 0 && this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve(null);
    }
    const room = this.#room;
    this.#room = undefined;
    room?.();
  }

  #kill(): void {
    this.#closeTimer = undefined;
    this.#conn.close();
    const room = this.#room;
    this.#room = undefined;
    room?.();
  }

  async #run(head: Uint8Array): Promise<void> {
    this.#ctx = captureContext();
    this.#lastSeen = Date.now();
    this.#nextPing = this.#lastSeen + this.#pingEvery;
    this.#arm();
    const conn = this.#conn, receiver = this.#receiver, core = this.#core;
    try {
      if (head.length > 0) receiver.push(head);
      while (!receiver.done) {
        if (this.#control && !this.#closeSent) {
          await this.#control;
          this.#control = undefined;
        }
        if (!this.#ended && (this.#queued() >= QUEUE_MESSAGES || this.#qBytes >= QUEUE_BYTES)) {
          await new Promise<void>((resolve) => this.#room = resolve);
          continue;
        }
        if (this.#pollable) {
          // Straight from the shared buffer: parsed before the next read.
          const buf = scratch.read();
          const n = core.readNow(buf);
          if (n === -1) {
            await new Promise<void>((resolve) => core.onReadable(resolve));
            continue;
          }
          if (n === null) break;
          if (this.#idle > 0) this.#lastSeen = Date.now();
          receiver.push(buf, n, true);
          continue;
        }
        const chunk = await conn.read();
        if (chunk === null) break;
        if (this.#idle > 0) this.#lastSeen = Date.now();
        receiver.push(chunk);
      }
      if (receiver.done) {
        // Close frames went (or ours is going) out: the server ends the TCP
        // stream first; both sides read until the peer's end.
        if (!this.#client) await conn.shutdown();
        while (await conn.read() !== null);
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
    clearTimeout(this.#timer);
    clearTimeout(this.#closeTimer);
    this.#timer = this.#closeTimer = undefined;
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

  #arm(): void {
    if (this.#state !== OPEN) return;
    let next = Infinity;
    if (this.#pingEvery > 0) next = this.#nextPing;
    if (this.#idle > 0) next = Math.min(next, this.#lastSeen + this.#idle);
    if (next === Infinity) return;
    const tick = this.#tickFn ??= () => this.#tick();
    this.#timer = setTimeout(tick, Math.max(0, next - Date.now()));
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#state !== OPEN || this.#closeSent) return;
    const now = Date.now();
    if (this.#idle > 0 && now - this.#lastSeen >= this.#idle) {
      this.#startClose(closePayload(1001, "idle timeout"));
      return;
    }
    if (this.#pingEvery > 0 && now >= this.#nextPing) {
      if (this.#awaitingPong) {
        this.#why = "no pong";
        this.#kill();
        return;
      }
      this.#awaitingPong = true;
      this.#internal(encodeFrame(OP_PING, new Uint8Array(0), this.#client));
      this.#nextPing = now + this.#pingEvery;
    }
    this.#arm();
  }
}

// The async iterator of a connection: `recv` until `null`.
class Messages implements AsyncIterableIterator<string | Uint8Array, void, undefined> {
  readonly #ws: WsConn;

  constructor(ws: WsConn) {
    this.#ws = ws;
  }

  next(): Promise<IteratorResult<string | Uint8Array, void>> {
    return this.#ws.recv().then(toResult);
  }

  return(): Promise<IteratorResult<string | Uint8Array, void>> {
    return Promise.resolve(END);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

function toResult(msg: string | Uint8Array | null): IteratorResult<string | Uint8Array, void> {
  return msg === null ? END : { done: false, value: msg };
}

function ignore(): void {}

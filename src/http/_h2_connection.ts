/**
 * One HTTP/2 connection (RFC 9113): the preface and SETTINGS exchange,
 * frames read and checked one by one (every connection error answered
 * with GOAWAY and the RFC's code, every stream error with RST_STREAM),
 * header blocks with CONTINUATION decoded by HPACK, flow control both
 * ways, each request served in its own task (./_h2_exchange.ts), and a
 * graceful end: GOAWAY with the last stream id, then close once the open
 * streams finish. The defences (./_h2_guard.ts) bound what a peer can
 * make the server hold or do.
 *
 * @example
 * ```ts ignore
 * const h2 = new H2Connection(conn, host, resolveHttp2("h2c", 16384)!);
 * await h2.run(new Uint8Array(0), undefined);
 * ```
 *
 * @module
 */
import { ClosedError, ConnectionReset } from "../errors.ts";
import { isEarlyWake } from "../_wait.ts";
import { spawn, whenSettled } from "../task.ts";
import type { Conn } from "../socket.ts";
import { Input } from "./_input.ts";
import type { ConnectionHost } from "./_connection.ts";
import type { Compression } from "./_compress.ts";
import type { HttpRequest } from "./request.ts";
import type { Reply } from "./response.ts";
import type { RequestHead } from "./_parser.ts";
import { HpackDecoder, HpackError } from "./_hpack_decoder.ts";
import { HpackEncoder } from "./_hpack_encoder.ts";
import * as f from "./_h2_frames.ts";
import { H2ConnectionError, H2StreamError } from "./_h2_frames.ts";
import * as s from "./_h2_settings.ts";
import { H2Output } from "./_h2_output.ts";
import { H2Stream, type StreamHost } from "./_h2_stream.ts";
import { H2BodySource } from "./_h2_body_source.ts";
import { checkTrailers, requestHead } from "./_h2_request.ts";
import { exchange, type ExchangeHost } from "./_h2_exchange.ts";
import { Guard, type Guarded } from "./_h2_guard.ts";
import type { Http2Config } from "./_h2_options.ts";
import { RecentIds } from "./_h2_recent.ts";

const READ_SIZE = 64 * 1024;

/** A header block being received over HEADERS and CONTINUATION frames. */
interface Pending {
  stream: number;
  flags: number;
  parts: Uint8Array[];
  bytes: number;
  frames: number;
  selfDependent: boolean;
}

/** The server side of one HTTP/2 connection. */
export class H2Connection implements StreamHost, ExchangeHost, Guarded {
  readonly conn: Conn;
  readonly out: H2Output;
  readonly handler: (req: HttpRequest) => Reply | Promise<Reply>;
  readonly limits: ConnectionHost["limits"];
  readonly arena: ConnectionHost["arena"];
  readonly compression: Compression | null;
  readonly noInput: Input;
  readonly blocked: Set<H2Stream> = new Set();
  readonly guard: Guard;
  readonly config: Http2Config;
  sendWindow = s.DEFAULT_WINDOW;
  readonly peer: s.PeerSettings = new s.PeerSettings();
  /** Open streams, and those whose task still runs. */
  readonly streams: Map<number, H2Stream> = new Map();
  /** Epoch ms of the last frame received or stream ended (the idle timeout counts from it). */
  lastActive: number = Date.now();
  #host: ConnectionHost;
  #decoder: HpackDecoder;
  #encoder = new HpackEncoder();
  #in = new Uint8Array(READ_SIZE);
  #start = 0;
  #end = 0;
  #prefaced = false;
  #gotSettings = false;
  #lastId = 0;
  #pending: Pending | null = null;
  #recvWindow: number;
  #unacked = 0;
  // Set once GOAWAY went out (or came in): no new streams; close once none are left.
  #closing = false;
  #finished = false;
  #lingering: ReturnType<typeof setTimeout> | undefined;
  // Streams this side reset lately, whose frames in flight are ignored.
  #resetByUs: RecentIds;
  // Streams that were open and closed lately (a lower id never opened is a PROTOCOL_ERROR).
  #closedIds: RecentIds;

  /**
   * @param conn the connection
   * @param host the server
   * @param config the HTTP/2 settings and bounds
   */
  constructor(conn: Conn, host: ConnectionHost, config: Http2Config) {
    this.conn = conn;
    this.config = config;
    this.#recvWindow = config.connectionWindowSize;
    this.#resetByUs = new RecentIds(config.maxConcurrentStreams);
    this.#closedIds = new RecentIds(config.maxConcurrentStreams);
    this.#host = host;
    this.handler = host.handler;
    this.limits = host.limits;
    this.arena = host.arena;
    this.compression = host.compression ?? null;
    this.out = new H2Output(conn);
    this.noInput = new Input(conn, host.arena);
    this.#decoder = new HpackDecoder(4096);
    this.guard = new Guard(this);
  }

  get maxFrame(): number {
    return this.peer.maxFrameSize;
  }

  get stallTimeout(): number {
    return this.limits.bodyTimeout;
  }

  date(): string {
    return this.#host.outputs.date();
  }

  onError(err: unknown, req: HttpRequest): void {
    this.#host.onError(err, req);
  }

  /**
   * Serves the connection until it ends. `initial`: bytes already read;
   * `upgraded`: the request of an `Upgrade: h2c` exchange (stream 1) and
   * the client's HTTP2-Settings payload.
   */
  async run(
    initial: Uint8Array,
    upgraded?: { head: RequestHead; settings: Uint8Array },
  ): Promise<void> {
    this.out.frame(
      f.SETTINGS,
      0,
      0,
      s.settingsPayload([
        [s.MAX_CONCURRENT_STREAMS, this.config.maxConcurrentStreams],
        [s.INITIAL_WINDOW_SIZE, this.config.initialWindowSize],
        [s.MAX_HEADER_LIST_SIZE, this.config.maxHeaderListSize],
        [s.ENABLE_PUSH, 0],
      ]),
    );
    this.guard.settingsSent();
    const extra = this.config.connectionWindowSize - s.DEFAULT_WINDOW;
    if (extra > 0) this.#windowUpdate(0, extra);
    try {
      if (upgraded !== undefined) {
        this.peer.apply(
          upgraded.settings,
          0,
          upgraded.settings.length - upgraded.settings.length % 6,
        );
        this.#lastId = 1;
        this.#open(1, upgraded.head, false, 0);
      }
      this.#append(initial);
      for (;;) {
        // Once ended, input is read and dropped until the peer closes or
        // the drain time is up (a lingering close: it sees our GOAWAY).
        if (this.#finished) this.#start = this.#end = 0;
        else {
          try {
            this.#parse();
          } catch (err) {
            if (!(err instanceof H2ConnectionError)) throw err;
            this.fail(err);
          }
        }
        if (this.#end === this.#in.length) this.#room();
        const n = await this.conn.readInto(this.#in.subarray(this.#end));
        if (n === null) break;
        this.#end += n;
        this.lastActive = Date.now();
      }
    } catch (err) {
      if (!isQuiet(err) && !this.conn.closed) {
        console.error("lunet/http2: connection failed:", err);
      }
    } finally {
      for (const stream of this.streams.values()) {
        this.#cancel(stream, new ConnectionReset("http2: connection lost"));
      }
      this.#finished = true;
      clearTimeout(this.#lingering);
    }
    await this.#flushed();
    this.conn.close();
  }

  /** Ends the connection with GOAWAY `err.code` (a connection error), then closes it. */
  fail(err: H2ConnectionError): void {
    if (this.#finished) return;
    this.#goaway(err.code, err.message.replace(/^http2: /, ""));
    this.#finished = true;
    for (const stream of this.streams.values()) {
      this.#cancel(stream, new ConnectionReset(err.message));
    }
    this.#linger();
  }

  /** Graceful end: GOAWAY with the last stream id; closes once the open streams finish. */
  drain(): void {
    if (this.#closing || this.#finished) return;
    this.#goaway(f.NO_ERROR, "");
    this.#maybeFinish();
  }

  /** Closes at once (the shutdown deadline passed, or the peer stopped reading). */
  abort(): void {
    this.#finished = true;
    this.conn.close();
  }

  #goaway(code: number, debug: string): void {
    this.#closing = true;
    const text = new TextEncoder().encode(debug.slice(0, 200));
    const payload = new Uint8Array(8 + text.length);
    new DataView(payload.buffer).setUint32(0, this.#lastId);
    new DataView(payload.buffer).setUint32(4, code);
    payload.set(text, 8);
    this.out.frame(f.GOAWAY, 0, 0, payload);
  }

  // Writes out what is buffered, for at most the drain time.
  async #flushed(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.out.flush(),
      new Promise((r) => timer = setTimeout(r, this.limits.drainTimeout)),
    ]);
    clearTimeout(timer);
  }

  // Ends the connection: output flushed, then our side shut; the reader
  // drops input until the peer closes, or the drain time ends it.
  async #linger(): Promise<void> {
    this.#lingering = setTimeout(() => this.conn.close(), this.limits.drainTimeout);
    await this.#flushed();
    await this.conn.shutdown().catch(() => this.conn.close());
  }

  #maybeFinish(): void {
    if (!this.#closing || this.streams.size > 0 || this.#finished) return;
    this.#finished = true;
    this.#linger();
  }

  #append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.#end + bytes.length > this.#in.length) this.#room(bytes.length);
    this.#in.set(bytes, this.#end);
    this.#end += bytes.length;
  }

  // Makes room at the end of the input buffer for at least `need` bytes.
  #room(need = READ_SIZE / 4): void {
    const kept = this.#end - this.#start;
    const size = Math.max(this.#in.length, kept + need, READ_SIZE);
    const buf = size > this.#in.length ? new Uint8Array(size) : this.#in;
    buf.copyWithin(0, this.#start, this.#end);
    if (buf !== this.#in) buf.set(this.#in.subarray(this.#start, this.#end));
    this.#in = buf;
    this.#start = 0;
    this.#end = kept;
  }

  // Handles every complete frame in the input buffer.
  #parse(): void {
    const buf = this.#in;
    let p = this.#start;
    if (!this.#prefaced) {
      const n = Math.min(this.#end - p, f.PREFACE.length);
      for (let i = 0; i < n; i++) {
        if (buf[p + i] !== f.PREFACE[i]) {
          throw new H2ConnectionError(f.PROTOCOL_ERROR, "bad connection preface");
        }
      }
      if (n < f.PREFACE.length) return;
      this.#prefaced = true;
      p += f.PREFACE.length;
    }
    while (this.#end - p >= f.FRAME_HEADER && !this.#finished) {
      const length = buf[p] << 16 | buf[p + 1] << 8 | buf[p + 2];
      if (length > s.DEFAULT_FRAME_SIZE) {
        throw new H2ConnectionError(f.FRAME_SIZE_ERROR, `frame of ${length} bytes`);
      }
      if (this.#end - p < f.FRAME_HEADER + length) {
        if (buf.length - p < f.FRAME_HEADER + length) {
          this.#start = p;
          this.#room(f.FRAME_HEADER + length);
          return this.#parse();
        }
        break;
      }
      const type = buf[p + 3], flags = buf[p + 4], id = f.read31(buf, p + 5);
      const start = p + f.FRAME_HEADER, end = start + length;
      p = end;
      this.#start = p;
      try {
        this.#frame(type, flags, id, buf, start, end);
      } catch (err) {
        if (!(err instanceof H2StreamError)) throw err;
        const stream = this.streams.get(err.stream);
        if (stream !== undefined && !stream.reset) this.resetStream(stream, err.code);
        else this.#rst(err.stream, err.code);
      }
    }
    this.#start = p;
    if (p === this.#end) this.#start = this.#end = 0;
  }

  #frame(
    type: number,
    flags: number,
    id: number,
    buf: Uint8Array,
    start: number,
    end: number,
  ): void {
    if (!this.#gotSettings) {
      if (type !== f.SETTINGS || (flags & f.ACK) !== 0) {
        throw new H2ConnectionError(f.PROTOCOL_ERROR, "the first frame is not SETTINGS");
      }
      this.#gotSettings = true;
    }
    const pending = this.#pending;
    if (pending !== null && (type !== f.CONTINUATION || id !== pending.stream)) {
      throw new H2ConnectionError(f.PROTOCOL_ERROR, "a header block was interrupted");
    }
    switch (type) {
      case f.DATA:
        return this.#onData(flags, id, buf, start, end);
      case f.HEADERS:
        return this.#onHeaders(flags, id, buf, start, end);
      case f.PRIORITY:
        if (id === 0) throw new H2ConnectionError(f.PROTOCOL_ERROR, "PRIORITY on stream 0");
        if (end - start !== 5) throw new H2StreamError(f.FRAME_SIZE_ERROR, id, "PRIORITY size");
        if (f.read31(buf, start) === id) {
          throw new H2StreamError(f.PROTOCOL_ERROR, id, "depends on itself");
        }
        return;
      case f.RST_STREAM:
        return this.#onReset(id, buf, start, end);
      case f.SETTINGS:
        return this.#onSettings(flags, id, buf, start, end);
      case f.PUSH_PROMISE:
        throw new H2ConnectionError(f.PROTOCOL_ERROR, "PUSH_PROMISE from a client");
      case f.PING:
        if (id !== 0) throw new H2ConnectionError(f.PROTOCOL_ERROR, "PING on a stream");
        if (end - start !== 8) throw new H2ConnectionError(f.FRAME_SIZE_ERROR, "PING size");
        if ((flags & f.ACK) !== 0) return;
        this.guard.ping();
        this.out.frame(f.PING, f.ACK, 0, buf, start, end);
        return;
      case f.GOAWAY:
        if (id !== 0) throw new H2ConnectionError(f.PROTOCOL_ERROR, "GOAWAY on a stream");
        if (end - start < 8) throw new H2ConnectionError(f.FRAME_SIZE_ERROR, "GOAWAY size");
        this.#closing = true;
        return this.#maybeFinish();
      case f.WINDOW_UPDATE:
        return this.#onWindowUpdate(id, buf, start, end);
      case f.CONTINUATION:
        if (pending === null) {
          throw new H2ConnectionError(f.PROTOCOL_ERROR, "CONTINUATION without HEADERS");
        }
        return this.#onContinuation(pending, flags, buf, start, end);
    }
  }

  // Strips padding (PADDED flag) from `[start, end)`; returns the payload's start and end.
  #unpad(
    flags: number,
    buf: Uint8Array,
    start: number,
    end: number,
    skip: number,
  ): [number, number] {
    if ((flags & f.PADDED) === 0) {
      if (end - start < skip) throw new H2ConnectionError(f.FRAME_SIZE_ERROR, "frame too short");
      return [start + skip, end];
    }
    if (end - start < 1 + skip) throw new H2ConnectionError(f.FRAME_SIZE_ERROR, "frame too short");
    const pad = buf[start];
    if (pad > end - start - 1 - skip) {
      throw new H2ConnectionError(f.PROTOCOL_ERROR, "padding too long");
    }
    return [start + 1 + skip, end - pad];
  }

  #onData(flags: number, id: number, buf: Uint8Array, start: number, end: number): void {
    if (id === 0) throw new H2ConnectionError(f.PROTOCOL_ERROR, "DATA on stream 0");
    const length = end - start;
    const [from, to] = this.#unpad(flags, buf, start, end, 0);
    this.#recvWindow -= length;
    if (this.#recvWindow < 0) {
      throw new H2ConnectionError(f.FLOW_CONTROL_ERROR, "connection window exceeded");
    }
    const stream = this.streams.get(id);
    if (stream === undefined || stream.remoteClosed || stream.reset) {
      this.#credit(length);
      if (id > this.#lastId) {
        throw new H2ConnectionError(f.PROTOCOL_ERROR, "DATA on an idle stream");
      }
      if (this.#resetByUs.has(id)) return;
      throw new H2StreamError(f.STREAM_CLOSED, id, "DATA on a closed stream");
    }
    stream.recvWindow -= length;
    if (stream.recvWindow < 0) {
      this.#credit(length);
      throw new H2StreamError(f.FLOW_CONTROL_ERROR, id, "stream window exceeded");
    }
    const data = buf.slice(from, to);
    if (length > data.length) this.#consumed(stream, length - data.length);
    if (data.length === 0 && (flags & f.END_STREAM) === 0) this.guard.emptyFrame();
    stream.received += data.length;
    if (stream.contentLength >= 0 && stream.received > stream.contentLength) {
      throw new H2StreamError(f.PROTOCOL_ERROR, id, "more DATA than content-length");
    }
    stream.body!.push(data);
    if ((flags & f.END_STREAM) !== 0) this.#endRemote(stream, []);
  }

  #endRemote(stream: H2Stream, trailers: string[]): void {
    if (stream.contentLength >= 0 && stream.received !== stream.contentLength) {
      throw new H2StreamError(f.PROTOCOL_ERROR, stream.id, "DATA shorter than content-length");
    }
    stream.remoteClosed = true;
    stream.body?.end(trailers);
  }

  #onHeaders(flags: number, id: number, buf: Uint8Array, start: number, end: number): void {
    if (id === 0) throw new H2ConnectionError(f.PROTOCOL_ERROR, "HEADERS on stream 0");
    if ((id & 1) === 0) throw new H2ConnectionError(f.PROTOCOL_ERROR, `even stream id ${id}`);
    const priority = (flags & f.PRIORITY_FLAG) !== 0;
    const [from, to] = this.#unpad(flags, buf, start, end, priority ? 5 : 0);
    const selfDependent = priority && f.read31(buf, from - 5) === id;
    const pending: Pending = { stream: id, flags, parts: [], bytes: 0, frames: 0, selfDependent };
    if ((flags & f.END_HEADERS) !== 0) return this.#block(pending, buf.subarray(from, to));
    pending.parts.push(buf.slice(from, to));
    pending.bytes = to - from;
    this.#pending = pending;
  }

  #onContinuation(
    pending: Pending,
    flags: number,
    buf: Uint8Array,
    start: number,
    end: number,
  ): void {
    pending.frames++;
    pending.bytes += end - start;
    const { maxContinuations, maxHeaderListSize } = this.config;
    if (pending.frames > maxContinuations || pending.bytes > 4 * maxHeaderListSize) {
      throw new H2ConnectionError(
        f.ENHANCE_YOUR_CALM,
        "header block too long (CONTINUATION flood)",
      );
    }
    if (end - start === 0 && (flags & f.END_HEADERS) === 0) this.guard.emptyFrame();
    pending.parts.push(buf.slice(start, end));
    if ((flags & f.END_HEADERS) === 0) return;
    this.#pending = null;
    const block = new Uint8Array(pending.bytes);
    let at = 0;
    for (const part of pending.parts) {
      block.set(part, at);
      at += part.length;
    }
    this.#block(pending, block);
  }

  // A complete header block: decoded always (the HPACK state is shared), then a request or trailers.
  #block(pending: Pending, block: Uint8Array): void {
    const id = pending.stream, end = (pending.flags & f.END_STREAM) !== 0;
    let decoded;
    try {
      decoded = this.#decoder.decode(block, 0, block.length, this.config.maxHeaderListSize);
    } catch (err) {
      if (err instanceof HpackError) throw new H2ConnectionError(f.COMPRESSION_ERROR, err.message);
      throw err;
    }
    const existing = this.streams.get(id);
    if (existing !== undefined || id <= this.#lastId) {
      if (existing === undefined || existing.remoteClosed || existing.reset) {
        if (this.#resetByUs.has(id)) return;
        if (existing === undefined && !this.#closedIds.has(id)) {
          throw new H2ConnectionError(f.PROTOCOL_ERROR, `stream id ${id} under ${this.#lastId}`);
        }
        throw new H2ConnectionError(f.STREAM_CLOSED, `HEADERS on closed stream ${id}`);
      }
      if (!end) throw new H2StreamError(f.PROTOCOL_ERROR, id, "trailers without END_STREAM");
      checkTrailers(decoded.fields, id);
      return this.#endRemote(existing, decoded.fields);
    }
    this.#lastId = id;
    if (pending.selfDependent) throw new H2StreamError(f.PROTOCOL_ERROR, id, "depends on itself");
    if (this.#closing) throw new H2StreamError(f.REFUSED_STREAM, id, "after GOAWAY");
    if (this.guard.busy >= this.config.maxConcurrentStreams) {
      throw new H2StreamError(f.REFUSED_STREAM, id, "too many streams");
    }
    const tooLarge = decoded.tooLarge || decoded.fields.length > 2 * this.limits.maxHeaderCount;
    const head = requestHead(tooLarge ? tooLargeFields : decoded.fields, id, !end);
    this.#open(id, head, !end, tooLarge ? 431 : 0);
  }

  #open(id: number, head: RequestHead, hasBody: boolean, status: number): void {
    const stream = new H2Stream(id, this, this.peer.initialWindow, this.config.initialWindowSize);
    stream.contentLength = head.contentLength;
    if (hasBody) {
      stream.body = new H2BodySource(
        this.conn.local,
        this.conn.peer,
        (n) => this.#consumed(stream, n),
      );
    } else stream.remoteClosed = true;
    this.streams.set(id, stream);
    this.guard.opened();
    const task = spawn(() => exchange(this, stream, head, status), { name: `http2 stream ${id}` });
    stream.task = task;
    whenSettled(task, () => this.#ended(stream));
  }

  // A stream's task ended: whatever is still open is reset, queued input credited back.
  #ended(stream: H2Stream): void {
    this.guard.closed();
    if (!stream.reset && !this.#finished) {
      if (!stream.localClosed) this.resetStream(stream, f.INTERNAL_ERROR);
      else if (!stream.remoteClosed) this.resetStream(stream, f.NO_ERROR);
    }
    if (stream.body !== null) this.#credit(stream.body.drop());
    this.streams.delete(stream.id);
    this.#closedIds.add(stream.id);
    this.blocked.delete(stream);
    this.lastActive = Date.now();
    this.#maybeFinish();
  }

  /** Resets `stream` with `code` (RST_STREAM) and cancels its task. */
  resetStream(stream: H2Stream, code: number): void {
    if (stream.reset) return;
    this.#rst(stream.id, code);
    this.#cancel(stream, new ConnectionReset(`http2: stream ${stream.id} reset`));
  }

  #rst(id: number, code: number): void {
    const payload = new Uint8Array(4);
    new DataView(payload.buffer).setUint32(0, code);
    this.out.frame(f.RST_STREAM, 0, id, payload);
    this.#resetByUs.add(id);
  }

  #cancel(stream: H2Stream, err: Error): void {
    if (stream.reset) return;
    stream.reset = true;
    stream.body?.fail(err);
    stream.wake(err);
    stream.task?.cancel(err);
  }

  #onReset(id: number, buf: Uint8Array, start: number, end: number): void {
    if (end - start !== 4) throw new H2ConnectionError(f.FRAME_SIZE_ERROR, "RST_STREAM size");
    if (id === 0) throw new H2ConnectionError(f.PROTOCOL_ERROR, "RST_STREAM on stream 0");
    if (id > this.#lastId) {
      throw new H2ConnectionError(f.PROTOCOL_ERROR, "RST_STREAM on an idle stream");
    }
    this.guard.reset();
    const stream = this.streams.get(id);
    if (stream === undefined || stream.reset) return;
    stream.resetCode = f.read32(buf, start);
    this.#cancel(stream, new ConnectionReset(`http2: stream ${id} reset by the client`));
  }

  #onSettings(flags: number, id: number, buf: Uint8Array, start: number, end: number): void {
    if (id !== 0) throw new H2ConnectionError(f.PROTOCOL_ERROR, "SETTINGS on a stream");
    if ((flags & f.ACK) !== 0) {
      if (end !== start) {
        throw new H2ConnectionError(f.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
      }
      return this.guard.settingsAcked();
    }
    if ((end - start) % 6 !== 0) throw new H2ConnectionError(f.FRAME_SIZE_ERROR, "SETTINGS size");
    this.guard.settings();
    const delta = this.peer.apply(buf, start, end);
    this.#encoder.setMaxSize(this.peer.headerTableSize);
    if (delta !== 0) {
      for (const stream of this.streams.values()) {
        stream.sendWindow += delta;
        if (stream.sendWindow > f.MAX_WINDOW) {
          throw new H2ConnectionError(
            f.FLOW_CONTROL_ERROR,
            "INITIAL_WINDOW_SIZE overflows a window",
          );
        }
        if (delta > 0) stream.wake();
      }
    }
    this.out.frame(f.SETTINGS, f.ACK, 0, null);
  }

  #onWindowUpdate(id: number, buf: Uint8Array, start: number, end: number): void {
    if (end - start !== 4) throw new H2ConnectionError(f.FRAME_SIZE_ERROR, "WINDOW_UPDATE size");
    const inc = f.read31(buf, start);
    if (id === 0) {
      if (inc === 0) throw new H2ConnectionError(f.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
      this.sendWindow += inc;
      if (this.sendWindow > f.MAX_WINDOW) {
        throw new H2ConnectionError(f.FLOW_CONTROL_ERROR, "window over 2^31-1");
      }
      for (const stream of this.blocked) stream.wake();
      return;
    }
    const stream = this.streams.get(id);
    if (stream === undefined) {
      if (id > this.#lastId) {
        throw new H2ConnectionError(f.PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream");
      }
      return;
    }
    if (inc === 0) throw new H2StreamError(f.PROTOCOL_ERROR, id, "WINDOW_UPDATE of 0");
    stream.sendWindow += inc;
    if (stream.sendWindow > f.MAX_WINDOW) {
      throw new H2StreamError(f.FLOW_CONTROL_ERROR, id, "window over 2^31-1");
    }
    stream.wake();
  }

  // `n` bytes of `stream` were read by its handler (or were padding): both windows get them back.
  #consumed(stream: H2Stream, n: number): void {
    stream.unacked += n;
    if (
      !stream.remoteClosed && !stream.reset && stream.unacked >= this.config.initialWindowSize / 2
    ) {
      this.#windowUpdate(stream.id, stream.unacked);
      stream.recvWindow += stream.unacked;
      stream.unacked = 0;
    }
    this.#credit(n);
  }

  // Credits `n` bytes back to the connection window.
  #credit(n: number): void {
    if (n === 0) return;
    this.#unacked += n;
    if (this.#unacked >= this.config.connectionWindowSize / 4 && !this.#finished) {
      this.#windowUpdate(0, this.#unacked);
      this.#recvWindow += this.#unacked;
      this.#unacked = 0;
    }
  }

  #windowUpdate(id: number, n: number): void {
    const payload = new Uint8Array(4);
    new DataView(payload.buffer).setUint32(0, n);
    this.out.frame(f.WINDOW_UPDATE, 0, id, payload);
  }

  headers(stream: H2Stream, fields: [string, string][], end: boolean): void {
    if (stream.reset) throw new ConnectionReset(`http2: stream ${stream.id} reset`);
    const block: number[] = [];
    this.#encoder.encode(fields, block);
    const max = this.peer.maxFrameSize;
    let at = 0, type = f.HEADERS;
    do {
      const n = Math.min(max, block.length - at);
      const last = at + n === block.length;
      const flags = (last ? f.END_HEADERS : 0) | (type === f.HEADERS && end ? f.END_STREAM : 0);
      this.out.frameOf(type, flags, stream.id, block, at, at + n);
      at += n;
      type = f.CONTINUATION;
    } while (at < block.length);
    stream.responded = true;
    if (end) stream.localClosed = true;
  }
}

// What a header list over the limits is answered from (with 431).
const tooLargeFields = [":method", "GET", ":scheme", "http", ":path", "/"];

function isQuiet(err: unknown): boolean {
  return err instanceof ClosedError || err instanceof ConnectionReset || isEarlyWake(err);
}

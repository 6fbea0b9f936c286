/**
 * One HTTP/1.1 connection, served by one task: read a head, run the
 * handler in the same task, write the response, repeat while the
 * connection stays alive. Pipelined responses are batched into one
 * write; bad input is answered with its status and the connection is
 * closed after a lingering drain.
 *
 * @module
 */
import { Cancelled, ClosedError, ConnectionReset, LunetError, TimeoutError } from "../errors.ts";
import { abandon, isEarlyWake } from "../_wait.ts";
import type { Task } from "../task.ts";
import type { Conn } from "../socket.ts";
import { Body } from "./body.ts";
import { Input } from "./input.ts";
import type { HttpLimits } from "./limits.ts";
import {
  checkHeadPrefix,
  findHeadEnd,
  leadingBlankLines,
  parseHead,
  type RequestHead,
} from "./parser.ts";
import { type HttpRequest, makeRequest } from "./request.ts";
import type { Upgraded, UpgradeEnd } from "./_upgrade.ts";
import { HttpResponse, PushBody, type Reply, toResponse } from "./response.ts";
import { HttpError } from "./status.ts";
import { headEnding, headerBlock, Output } from "./writer.ts";

/** What a connection needs from its server. */
export interface ConnectionHost {
  /** The handler of every request. */
  handler: (req: HttpRequest) => Reply | Promise<Reply>;
  /** The limits in force. */
  limits: HttpLimits;
  /** True once a graceful shutdown started. */
  draining: boolean;
  /** Reports a handler failure. */
  onError: (err: unknown, req: HttpRequest) => void;
}

/** Unread request bodies up to this size are drained to keep the connection. */
const DISCARD_MAX = 64 * 1024;
const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");
/** Most bytes of empty lines (CRLF) accepted before a request line; more gets 400. */
const BLANK_MAX = 8;
const IDLE = 0, HEAD = 1, HANDLER = 2, WRITING = 3, CLOSING = 4;

/** The shared "no handler yet" error for an idle connection closed by shutdown. */
class IdleClose extends LunetError {
  constructor() {
    super("closed", "http connection: closed while idle");
  }
}

/** An accepted connection and the loop that serves it. */
export class Connection {
  #conn: Conn;
  #host: ConnectionHost;
  #limits: HttpLimits;
  #input: Input;
  #out: Output;
  #task: Task<void> | undefined;
  #phase = IDLE;
  #responseDeadline = 0;
  #responding = false;
  #linger = false;
  // What run() continues with after #serveArrived handed over: false to
  // stop, or the pending rest of an exchange (resolving to keep-alive).
  #later: false | Promise<boolean> | undefined = undefined;
  // A request head #serveArrived parsed but left for run().
  #nextHead: RequestHead | undefined = undefined;
  // Bytes of empty lines skipped since the last request head: while not
  // 0, a request has begun, and the header timeout applies, not the idle one.
  #blank = 0;
  // The exchange whose handler runs, for upgrade() to check.
  #req: HttpRequest | undefined = undefined;
  #head: RequestHead | undefined = undefined;
  #body: Body | undefined = undefined;
  // Set once the handler took the connection over (see ./_upgrade.ts).
  #upgraded: Upgrade | undefined = undefined;

  /**
   * @param conn the accepted connection
   * @param host the server
   */
  constructor(conn: Conn, host: ConnectionHost) {
    this.#conn = conn;
    this.#host = host;
    this.#limits = host.limits;
    this.#input = new Input(conn);
    this.#out = new Output(conn, host.limits.bodyTimeout);
  }

  /** True while waiting for the next request with nothing received. */
  get idle(): boolean {
    return this.#phase === IDLE;
  }

  /** Serves the connection until it closes. `task` is the task running it. */
  async run(task: Task<void>): Promise<void> {
    this.#task = task;
    const input = this.#input;
    try {
      for (;;) {
        // The common keep-alive turn inline: write out, wait while idle,
        // parse; anything else goes through #readHead.
        let head: RequestHead | null | undefined = this.#buffered();
        if (head === undefined) {
          const flushing = this.#out.flush();
          if (flushing) await flushing;
          if (input.available === 0 && this.#blank === 0 && !this.#host.draining) {
            this.#phase = IDLE;
            let more = false;
            try {
              more = await input.more(
                "http idle",
                Date.now() + this.#limits.idleTimeout,
                this.#serveArrived,
              );
            } catch (err) {
              if (!endsIdle(err)) throw err;
            }
            head = this.#nextHead;
            this.#nextHead = undefined;
            const later = this.#later;
            if (later !== undefined) {
              this.#later = undefined;
              if (typeof later === "boolean" || !(await later)) break;
              continue;
            }
            if (!more) break;
            head ??= this.#buffered();
          }
          head ??= await this.#readHead();
          if (head === null) break;
        }
        let keepAlive = this.#exchange(head);
        if (typeof keepAlive !== "boolean") keepAlive = await keepAlive;
        if (!keepAlive) break;
      }
      await this.#out.flush();
      if (this.#linger) await this.#drain();
    } catch (err) {
      await this.#fail(err);
    } finally {
      // An exchange #serveArrived began is left unawaited when the task was
      // cancelled meanwhile: it ends with the connection.
      if (this.#later instanceof Promise) this.#later.catch(() => {});
      this.#conn.close();
    }
  }

  /**
   * Serves requests that arrived while the connection was idle right where
   * they are noticed, as long as each completes at once (the handler
   * returns a response, not a promise, and the socket takes it): no
   * promise is settled and no wait is restarted per request. Returns true
   * to keep waiting (or a promise of that while the response is written);
   * anything else is left for {@linkcode Connection.run} (in `#later` when
   * it is the rest of an exchange).
   */
  #serveArrived = (): boolean | Promise<boolean> => {
    const input = this.#input;
    for (;;) {
      if (this.#host.draining) return false;
      const head = this.#buffered();
      if (head === undefined) {
        // A partial head is read with the header timeout by run().
        if (input.available !== 0 || this.#blank !== 0) return false;
        // The next request is read once the response is out; meanwhile the
        // write's own stall timeout applies, not the idle one.
        const flushing = this.#out.flush();
        if (flushing === undefined) return this.#idleAgain();
        input.deadline = 0;
        return flushing.then(this.#idleAgain);
      }
      if (head.chunked || head.contentLength > 0) {
        // Reading a body waits on the input, which this wait holds: run()
        // serves this request.
        this.#nextHead = head;
        return false;
      }
      const keepAlive = this.#exchange(head);
      if (keepAlive !== true) {
        this.#later = keepAlive;
        return false;
      }
    }
  };

  // Back to waiting for the next request, unless a shutdown began.
  #idleAgain = (): boolean => {
    if (this.#host.draining) return false;
    this.#phase = IDLE;
    this.#input.deadline = Date.now() + this.#limits.idleTimeout;
    return true;
  };

  /**
   * Enforces the timeouts at time `now` (called by the server's sweeper).
   */
  tick(now: number): void {
    const input = this.#input;
    if (input.deadline !== 0 && now >= input.deadline) {
      input.interrupt(new TimeoutError(input.waitingFor));
    }
    if (this.#out.deadline !== 0 && now >= this.#out.deadline) {
      this.#conn.close();
    }
    if (this.#responseDeadline !== 0 && now >= this.#responseDeadline) {
      this.#responseDeadline = 0;
      this.#task?.cancel(new TimeoutError("http response"));
      this.#conn.close();
    }
  }

  /** Closes the connection if it is idle (graceful shutdown). */
  closeIfIdle(): void {
    if (this.#phase === IDLE) this.#input.interrupt(new IdleClose());
  }

  /** Stops the connection at once (shutdown deadline). */
  abort(): void {
    this.#task?.cancel(new Cancelled("http server shutdown"));
    this.#conn.close();
  }

  // A complete request head already received, parsed and consumed;
  // `undefined` when more input is needed.
  #buffered(): RequestHead | undefined {
    const input = this.#input;
    if (input.available === 0) return undefined;
    if (this.#skipBlankLines()) return undefined;
    const end = findHeadEnd(input.buf, input.start, input.start, input.end, this.#limits);
    return end === -1 ? undefined : this.#parse(end);
  }

  // Skips the empty lines before a request, up to BLANK_MAX bytes of
  // them; true when nothing else is left to read.
  #skipBlankLines(): boolean {
    const input = this.#input;
    const blank = leadingBlankLines(input.buf, input.start, input.end);
    if (blank === 0) return false;
    this.#blank += blank;
    if (this.#blank > BLANK_MAX) throw new HttpError(400, "too many empty lines before a request");
    input.skip(blank);
    return input.available === 0;
  }

  #parse(end: number): RequestHead {
    const input = this.#input;
    const head = parseHead(input.buf, input.start, end, this.#limits);
    input.skip(end - input.start);
    this.#blank = 0;
    return head;
  }

  async #readHead(): Promise<RequestHead | null> {
    const input = this.#input, limits = this.#limits;
    // How many unread bytes were already searched for the head's end:
    // counted from the first unread byte, as a wait may move those bytes.
    // The same for the check of those bytes (see checkHeadPrefix).
    let scanned = 0, checked = 0;
    let headDeadline = 0;
    for (;;) {
      if (input.available > 0) {
        const before = input.available;
        const emptied = this.#skipBlankLines();
        if (input.available !== before) scanned = checked = 0;
        if (!emptied) {
          const start = input.start;
          const end = findHeadEnd(input.buf, start, start + scanned, input.end, limits);
          if (end !== -1) return this.#parse(end);
          checked = checkHeadPrefix(input.buf, start, input.end, checked, limits);
          scanned = input.available;
        }
      }
      const flushing = this.#out.flush();
      if (flushing) await flushing;
      if (input.available === 0 && this.#blank === 0) {
        if (this.#host.draining) return null;
        this.#phase = IDLE;
        headDeadline = 0;
        try {
          if (!(await input.more("http idle", Date.now() + limits.idleTimeout))) return null;
        } catch (err) {
          if (endsIdle(err)) return null;
          throw err;
        }
        // A new request started: restart the scan.
        scanned = checked = 0;
        continue;
      }
      this.#phase = HEAD;
      if (headDeadline === 0) headDeadline = Date.now() + limits.headerTimeout;
      try {
        if (!(await input.more("http header", headDeadline))) {
          // Empty lines, then the end: nothing was asked.
          if (input.available === 0) return null;
          throw new HttpError(400, "connection ended inside a request head");
        }
      } catch (err) {
        if (err instanceof TimeoutError) throw new HttpError(408, "request header timeout");
        throw err;
      }
    }
  }

  // Runs one request/response exchange; returns whether to keep going
  // (synchronously when the handler and the write did not wait).
  #exchange(head: RequestHead): boolean | Promise<boolean> {
    const limits = this.#limits;
    const hasBody = head.chunked || head.contentLength > 0;
    const body = new Body(
      this.#input,
      limits,
      head.chunked ? -1 : hasBody ? head.contentLength : 0,
      head.expectContinue && hasBody ? () => this.#out.direct(CONTINUE) : null,
    );
    const req = makeRequest(head, body, this.#conn.peer, this.#upgrade);
    this.#req = req;
    this.#head = head;
    this.#body = body;
    this.#phase = HANDLER;
    let res: HttpResponse | Response;
    try {
      const reply = this.#host.handler(req);
      // The response timeout applies once the handler waits: nothing can
      // enforce it while the handler runs synchronously.
      if (reply instanceof Promise) return this.#awaitReply(reply, head, body, req);
      if (this.#upgraded !== undefined) return this.#endUpgraded(null, undefined);
      res = toResponse(reply);
    } catch (err) {
      if (this.#upgraded !== undefined) return this.#endUpgraded(null, err);
      res = this.#errorResponse(err, req, body);
    }
    return this.#respond(res, head, body);
  }

  // The handler takes the connection over: checks that this exchange can
  // switch, writes the 101 head after any earlier response, hands over
  // the bytes read past the request head.
  #upgrade = async (
    req: HttpRequest,
    response: Uint8Array,
    onEnd: UpgradeEnd | undefined,
  ): Promise<Upgraded> => {
    const head = this.#head!, body = this.#body!;
    const refused = this.#upgraded !== undefined
      ? "already upgraded"
      : this.#phase !== HANDLER || this.#req !== req || this.#responding
      ? "the response was already started"
      : head.minor !== 1
      ? "HTTP/1.0 cannot switch protocols"
      : !body.done
      ? "the request body is not fully read"
      : !head.upgrade || !req.headers.has("upgrade")
      ? "the request does not offer an upgrade (Upgrade and Connection: upgrade)"
      : "";
    if (refused !== "") throw new TypeError(`http upgrade: ${refused}`);
    const input = this.#input;
    // From here on the handler owns the connection: no response timeout,
    // no watch, no HTTP response.
    const upgraded: Upgrade = { req, onEnd, sent: undefined };
    this.#upgraded = upgraded;
    this.#responseDeadline = 0;
    input.unwatch();
    const rest = input.available === 0 ? new Uint8Array(0) : input.take(input.available).slice();
    const sent = this.#sendSwitch(response);
    upgraded.sent = sent;
    await sent;
    return { conn: this.#conn, head: rest };
  };

  async #sendSwitch(response: Uint8Array): Promise<void> {
    // Earlier pipelined responses first; the 101 head from its own array,
    // so it never shares the buffer of a write in flight.
    const flushing = this.#out.flush();
    if (flushing) await flushing;
    await this.#out.direct(response);
  }

  // An upgraded handler ended (`reply`: its promise, or null when it
  // already returned or threw `error`): awaits the 101 write and onEnd,
  // then the connection closes.
  async #endUpgraded(reply: Promise<unknown> | null, error: unknown): Promise<boolean> {
    const upgraded = this.#upgraded!;
    if (reply !== null) {
      try {
        await reply;
        error = undefined;
      } catch (err) {
        error = err;
      }
    }
    if (upgraded.sent) await upgraded.sent.catch(() => {});
    const onEnd = upgraded.onEnd;
    if (onEnd === undefined) {
      if (error !== undefined && !isQuiet(error) && !this.#task?.cancelled) {
        this.#host.onError(error, upgraded.req);
      }
      return false;
    }
    try {
      await within(onEnd(error), this.#limits.drainTimeout);
    } catch (err) {
      this.#host.onError(err, upgraded.req);
    }
    return false;
  }

  // The rest of an exchange whose handler returned a promise.
  async #awaitReply(
    reply: Promise<Reply>,
    head: RequestHead,
    body: Body,
    req: HttpRequest,
  ): Promise<boolean> {
    const input = this.#input;
    if (this.#upgraded === undefined) {
      this.#responseDeadline = Date.now() + this.#limits.responseTimeout;
    }
    let res: HttpResponse | Response;
    try {
      if (this.#out.pending > 0) {
        // The handler may fail while earlier responses are flushed; its
        // rejection is handled by the await below, not reported as lost.
        reply.catch(() => {});
        await this.#out.flush();
      }
      // A client that ends its side meanwhile still waits for the response.
      // A request offering an upgrade leaves the socket unread.
      if (!head.chunked && !(head.contentLength > 0) && !head.upgrade) {
        input.watch(this.#gone, this.#limits.maxHeaderBytes, false);
      }
      const value = await reply;
      if (this.#upgraded !== undefined) return await this.#endUpgraded(null, undefined);
      res = toResponse(value);
    } catch (err) {
      if (this.#upgraded !== undefined) return await this.#endUpgraded(reply, err);
      res = this.#errorResponse(err, req, body);
    } finally {
      input.unwatch();
      this.#responseDeadline = 0;
    }
    return await this.#respond(res, head, body);
  }

  // Sends the response of an exchange; returns whether to keep going.
  #respond(
    res: HttpResponse | Response,
    head: RequestHead,
    body: Body,
  ): boolean | Promise<boolean> {
    this.#phase = WRITING;
    this.#req = undefined;
    const host = this.#host;
    let keepAlive = head.keepAlive && !host.draining && !body.failed;
    if (keepAlive && !body.done) {
      keepAlive = !head.chunked && !head.expectContinue && body.remaining <= DISCARD_MAX;
    }
    const sent = this.#send(res, head, keepAlive, body.done);
    if (typeof sent !== "boolean") return sent.then((keep) => this.#afterSend(keep, body));
    return this.#afterSend(sent, body);
  }

  // Drains an unread request body to keep the connection, or lingers.
  #afterSend(keepAlive: boolean, body: Body): boolean | Promise<boolean> {
    if (body.done) return keepAlive;
    if (keepAlive) return this.#discard(body);
    this.#linger = true;
    return false;
  }

  async #discard(body: Body): Promise<boolean> {
    const keepAlive = await body.discard(DISCARD_MAX);
    if (!keepAlive && !body.done) this.#linger = true;
    return keepAlive;
  }

  #gone = (): void => {
    this.#task?.cancel(new ConnectionReset("http: client went away"));
  };

  // A write of a pushed body failed: the client is gone, so the handler's
  // task (and what it spawned) is cancelled and the write fails as cancelled.
  #pushFailed = (err: unknown): never => {
    this.#gone();
    throw new Cancelled("http response write", { cause: err });
  };

  #errorResponse(err: unknown, req: HttpRequest, body: Body): HttpResponse {
    if (this.#task?.cancelled) throw err;
    if (err instanceof HttpError) return errorJson(err.status, err.message);
    if (body.failed && err instanceof TimeoutError) return errorJson(408, "request body timeout");
    if (body.failed) throw err;
    this.#host.onError(err, req);
    return errorJson(500, "internal server error");
  }

  // Writes the response; returns whether the connection may stay open
  // (synchronously when the write did not wait).
  #send(
    res: HttpResponse | Response,
    head: RequestHead,
    keepAlive: boolean,
    requestDone: boolean,
  ): boolean | Promise<boolean> {
    const out = this.#out;
    this.#responding = true;
    if (res instanceof HttpResponse) {
      const body = res.body;
      if (
        body === null || body === undefined || typeof body === "string" ||
        body instanceof Uint8Array
      ) {
        let pending = out.fixed(
          res.status,
          headerBlock(res.headers),
          body ?? null,
          headEnding(keepAlive, head.minor),
          head.method === "HEAD",
        );
        // With the request read, the serving loop writes out before it
        // waits for the next one; a body still to come is waited for with
        // the response written.
        if (pending === undefined && (out.full || (!requestDone && this.#input.available === 0))) {
          pending = out.flush();
        }
        if (pending !== undefined) return this.#sent(pending, keepAlive);
        this.#responding = false;
        return keepAlive;
      }
      return this.#stream(
        res.status,
        headerBlock(res.headers),
        body,
        head,
        keepAlive,
        requestDone,
      );
    }
    return this.#sendFetch(res, head, keepAlive, requestDone);
  }

  async #sent(pending: Promise<void>, keepAlive: boolean): Promise<boolean> {
    await pending;
    this.#responding = false;
    return keepAlive;
  }

  // Writes a Fetch API Response.
  async #sendFetch(
    res: Response,
    head: RequestHead,
    keepAlive: boolean,
    requestDone: boolean,
  ): Promise<boolean> {
    const out = this.#out;
    const omitBody = head.method === "HEAD";
    let headers = "";
    for (const [name, value] of res.headers) {
      if (name !== "content-length" && name !== "transfer-encoding" && name !== "connection") {
        headers += name + ": " + value + "\r\n";
      }
    }
    if (res.body === null) {
      out.fixed(res.status, headers, null, headEnding(keepAlive, head.minor), omitBody);
      await out.flush();
      this.#responding = false;
      return keepAlive;
    }
    return await this.#stream(res.status, headers, res.body, head, keepAlive, requestDone);
  }

  async #stream(
    status: number,
    headers: string,
    body: Exclude<HttpResponse["body"], string | Uint8Array | null | undefined>,
    head: RequestHead,
    keepAlive: boolean,
    requestDone: boolean,
  ): Promise<boolean> {
    const out = this.#out, input = this.#input;
    if (head.method === "HEAD") {
      out.streamHead(status, headers, false, headEnding(keepAlive, head.minor));
      await out.flush();
      if (body instanceof ReadableStream) await body.cancel();
      return keepAlive;
    }
    const chunked = head.minor === 1;
    if (!chunked) keepAlive = false;
    out.streamHead(status, headers, chunked, headEnding(keepAlive, head.minor));
    await out.flush();
    // While the body streams, notice the client going away: a reset, or
    // the end of its side (unless it had ended it before the stream began).
    if (requestDone) input.watch(this.#gone, this.#limits.maxHeaderBytes, true);
    try {
      if (body instanceof PushBody) {
        await body.produce((chunk) => {
          const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
          if (bytes.length === 0) return Promise.resolve();
          return out.direct(chunked ? frame(bytes) : bytes).catch(this.#pushFailed);
        });
      } else {
        const iterable = body instanceof ReadableStream
          ? body
          : body as AsyncIterable<Uint8Array | string>;
        for await (const piece of iterable as AsyncIterable<Uint8Array | string>) {
          await out.piece(piece, chunked);
        }
      }
    } finally {
      input.unwatch();
    }
    if (chunked) out.end();
    await out.flush();
    this.#responding = false;
    return keepAlive;
  }

  // Answers a failed exchange if nothing was sent yet, then closes lingering.
  async #fail(err: unknown): Promise<void> {
    if (this.#task?.cancelled || this.#conn.closed) return;
    let status = 0, message = "";
    if (err instanceof HttpError) {
      status = err.status;
      message = err.message;
    } else if (
      err instanceof ClosedError || err instanceof ConnectionReset || err instanceof Cancelled ||
      err instanceof TimeoutError
    ) {
      return;
    } else {
      status = 500;
      message = "internal server error";
      console.error("lunet/http: connection failed:", err);
    }
    if (this.#responding) return;
    this.#phase = CLOSING;
    try {
      const res = errorJson(status, message);
      this.#out.fixed(
        res.status,
        headerBlock(res.headers),
        res.body as string,
        headEnding(false, 1),
        false,
      );
      await this.#out.flush();
    } catch {
      return; // The peer is gone; nothing more to do.
    }
    await this.#drain();
  }

  // Lingering close: send FIN, then read and drop input until the peer
  // closes or the drain period ends, so it sees the response, not a reset.
  // Best effort: a peer that is already gone just ends it.
  async #drain(): Promise<void> {
    const input = this.#input;
    const deadline = Date.now() + this.#limits.drainTimeout;
    try {
      await this.#conn.shutdown();
      for (;;) {
        input.skip(input.available);
        if (!(await input.more("http drain", deadline))) return;
      }
    } catch {
      // Timed out, reset or closed: the connection is closed next.
    }
  }
}

/** The state of a connection its handler took over. */
interface Upgrade {
  req: HttpRequest;
  onEnd: UpgradeEnd | undefined;
  // The 101 head's write, once started.
  sent: Promise<void> | undefined;
}

// True for the errors an upgraded handler ends with when its socket or
// task ends: not reported as failures.
function isQuiet(err: unknown): boolean {
  return err instanceof ClosedError || err instanceof ConnectionReset || isEarlyWake(err);
}

// Waits for `result` up to `ms` (not tied to the task, which may be
// cancelled); a later rejection is swallowed.
function within(result: void | Promise<void>, ms: number): Promise<void> | undefined {
  if (!(result instanceof Promise)) return undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<void>((resolve) => timer = setTimeout(resolve, ms));
  abandon(result);
  return Promise.race([result, expired]).finally(() => clearTimeout(timer));
}

// True for the errors that end an idle wait quietly: shutdown or idle timeout.
function endsIdle(err: unknown): boolean {
  return err instanceof IdleClose || err instanceof TimeoutError;
}

function frame(bytes: Uint8Array): Uint8Array {
  const prefix = bytes.length.toString(16) + "\r\n";
  const out = new Uint8Array(prefix.length + bytes.length + 2);
  for (let i = 0; i < prefix.length; i++) out[i] = prefix.charCodeAt(i);
  out.set(bytes, prefix.length);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

function errorJson(status: number, message: string): HttpResponse {
  return new HttpResponse(JSON.stringify({ error: message }), {
    status,
    headers: { "content-type": "application/json" },
  });
}

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
import { Input, type ReadArena } from "./_input.ts";
import { Arrivals, type ArrivalsOwner } from "./_arrivals.ts";
import { errorJson, Responder } from "./_respond.ts";
import type { HttpLimits } from "./limits.ts";
import { HeadScanner } from "./_heads.ts";
import type { RequestHead } from "./_parser.ts";
import { type HttpRequest, makeRequest } from "./request.ts";
import { Takeover, type Upgraded, type UpgradeEnd, upgradeRefusal } from "./_upgrade.ts";
import { type HttpResponse, type Reply, toResponse } from "./response.ts";
import { HttpError } from "./status.ts";
import { Output, type OutputPool } from "./_writer.ts";
import type { Compression } from "./_compress.ts";
import type { Http2Service } from "./_h2_service.ts";

/** What a connection needs from its server. */
export interface ConnectionHost {
  /** The handler of every request. */
  handler: (req: HttpRequest) => Reply | Promise<Reply>;
  /** The limits in force. */
  limits: HttpLimits;
  /** True once a graceful shutdown started. */
  draining: boolean;
  /**
   * True while a draining server still leaves idle keep-alive connections
   * open (its shutdown's `idleGrace`): one whose last response kept it
   * alive waits for the request its client may already have sent.
   */
  lingering?: boolean;
  /** Reports a handler failure. */
  onError: (err: unknown, req: HttpRequest) => void;
  /** The read arena of the server's connections. */
  arena: ReadArena;
  /** The output buffers and caches of the server's connections. */
  outputs: OutputPool;
  /** The server's response compression (`null` or absent: none). */
  compression?: Compression | null;
  /** The server's HTTP/2 side, when it speaks HTTP/2 (see ./_h2_service.ts). */
  http2?: Http2Service;
}

/** Unread request bodies up to this size are drained to keep the connection. */
const DISCARD_MAX = 64 * 1024;
const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");
const IDLE = 0, HEAD = 1, HANDLER = 2, WRITING = 3, CLOSING = 4;

/** What the wait of an exchange that can be taken over ends with when it is. */
const TAKEN = Symbol("taken over");

/** The shared "no handler yet" error for an idle connection closed by shutdown. */
class IdleClose extends LunetError {
  constructor() {
    super("closed", "http connection: closed while idle");
  }
}

/** An accepted connection and the loop that serves it. */
export class Connection implements ArrivalsOwner {
  #conn: Conn;
  #host: ConnectionHost;
  #limits: HttpLimits;
  #input: Input;
  #out: Output;
  #task: Task<void> | undefined;
  #phase = IDLE;
  #responseDeadline = 0;
  #responder: Responder;
  #linger = false;
  #arrivals: Arrivals;
  #heads: HeadScanner;
  // The exchange whose handler runs, for upgrade() to check.
  #req: HttpRequest | undefined = undefined;
  #head: RequestHead | undefined = undefined;
  #body: Body | undefined = undefined;
  // Set once the handler took the connection over (see ./_upgrade.ts).
  #upgraded: Takeover | undefined = undefined;
  // Ends the wait of an exchange that offers an upgrade once it is taken over.
  #takenOver: ((taken: typeof TAKEN) => void) | undefined = undefined;

  /**
   * @param conn the accepted connection
   * @param host the server
   */
  constructor(conn: Conn, host: ConnectionHost) {
    this.#conn = conn;
    this.#host = host;
    this.#limits = host.limits;
    this.#input = new Input(conn, host.arena);
    this.#heads = new HeadScanner(this.#input, host.limits);
    this.#out = new Output(conn, host.limits.bodyTimeout, host.outputs);
    this.#arrivals = new Arrivals(
      this,
      host,
      this.#heads,
      this.#input,
      this.#out,
      host.limits.idleTimeout,
    );
    this.#responder = new Responder(
      this.#out,
      this.#input,
      host.limits.maxHeaderBytes,
      this.#gone,
      host.compression ?? null,
    );
  }

  /** True while waiting for the next request with nothing received. */
  get idle(): boolean {
    return this.#phase === IDLE;
  }

  /** Serves the connection until it closes. `task` is the task running it. */
  async run(task: Task<void>): Promise<void> {
    this.#task = task;
    try {
      await this.#serve();
      // A handler that took the connection over runs on without the HTTP
      // engine: its end (then the 101 write's, and onEnd) is awaited here.
      const upgraded = this.#upgraded;
      if (upgraded !== undefined) {
        let error = upgraded.error;
        if (upgraded.reply !== null) {
          try {
            await upgraded.reply;
          } catch (err) {
            error = err;
          }
        }
        const quiet = error === undefined || isQuiet(error) || task.cancelled;
        await upgraded.end(error, quiet, this.#limits.drainTimeout, this.#host.onError);
      }
    } catch (err) {
      await this.#fail(err);
    } finally {
      if (this.#upgraded === undefined) this.#arrivals.abandon();
      this.#conn.close();
    }
  }

  // HTTP exchanges until the connection ends or is taken over.
  async #serve(): Promise<void> {
    const input = this.#input, arrivals = this.#arrivals;
    // An HTTP/2 connection (ALPN h2, or the preface in cleartext) is served by the HTTP/2 engine.
    if (this.#host.http2 !== undefined && (await this.#host.http2.claim(this.#conn, input))) return;
    for (;;) {
      // The common keep-alive turn inline: write out, wait while idle
      // (serving what arrives, see ./_arrivals.ts), parse; anything else
      // goes through #readHead.
      let head: RequestHead | null | undefined = this.#heads.buffered();
      if (head === undefined) {
        const flushing = this.#out.flush();
        if (flushing) await flushing;
        if (input.available === 0 && !this.#heads.begun && !this.#host.draining) {
          this.#phase = IDLE;
          let more = false;
          try {
            more = await arrivals.wait();
          } catch (err) {
            if (!endsIdle(err)) throw err;
          }
          head = arrivals.takeHead();
          const later = arrivals.takeLater();
          if (later !== undefined) {
            if (typeof later === "boolean" || !(await later)) break;
            continue;
          }
          if (!more) break;
          head ??= this.#heads.buffered();
        }
        head ??= await this.#readHead();
        if (head === null) break;
      }
      let keepAlive = this.exchange(head);
      if (typeof keepAlive !== "boolean") keepAlive = await keepAlive;
      if (!keepAlive) break;
    }
    if (this.#upgraded !== undefined) return;
    await this.#out.flush();
    if (this.#linger) await this.#drain();
  }

  /** Marks the connection idle: waiting for a request, nothing of it received. */
  setIdle(): void {
    this.#phase = IDLE;
  }

  /**
   * Enforces the timeouts at time `now` (called by the server's sweeper).
   */
  tick(now: number): void {
    if (this.#upgraded !== undefined) return;
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

  async #readHead(): Promise<RequestHead | null> {
    const input = this.#input, limits = this.#limits, heads = this.#heads;
    heads.restart();
    let headDeadline = 0;
    for (;;) {
      const head = heads.scan();
      if (head !== undefined) return head;
      const flushing = this.#out.flush();
      if (flushing) await flushing;
      if (input.available === 0 && !heads.begun) {
        if (this.#host.draining && !this.#host.lingering) return null;
        this.#phase = IDLE;
        headDeadline = 0;
        try {
          if (!(await input.more("http idle", Date.now() + limits.idleTimeout))) return null;
        } catch (err) {
          if (endsIdle(err)) return null;
          throw err;
        }
        // A new request started: restart the scan.
        heads.restart();
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

  /**
   * Runs one request/response exchange; returns whether to keep going
   * (synchronously when the handler and the write did not wait).
   */
  exchange(head: RequestHead): boolean | Promise<boolean> {
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
      if (this.#upgraded !== undefined) return false;
      res = toResponse(reply);
    } catch (err) {
      if (this.#upgraded !== undefined) {
        this.#upgraded.error = err;
        return false;
      }
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
    const refused = this.#upgraded !== undefined
      ? "already upgraded"
      : this.#phase !== HANDLER || this.#req !== req || this.#responder.responding
      ? "the response was already started"
      : upgradeRefusal(req, this.#head!, this.#body!);
    if (refused !== "") throw new TypeError(`http upgrade: ${refused}`);
    const input = this.#input;
    // From here on the handler owns the connection: no response timeout,
    // no watch, no HTTP response.
    const upgraded = new Takeover(req, onEnd);
    this.#upgraded = upgraded;
    this.#responseDeadline = 0;
    input.unwatch();
    const rest = input.available === 0 ? new Uint8Array(0) : input.take(input.available).slice();
    const sent = this.#sendSwitch(response);
    upgraded.sent = sent;
    await sent;
    this.#release();
    return { conn: this.#conn, head: rest };
  };

  // The handler owns the socket now: everything that served HTTP is let
  // go (and the exchange stops awaiting the handler, see #awaitReply), so
  // an upgraded connection holds little more than its socket and task.
  #release(): void {
    this.#arrivals.abandon();
    this.#body!.release();
    const released = undefined as never;
    this.#input =
      this.#out =
      this.#arrivals =
      this.#heads =
      this.#responder =
        released;
    this.#req = this.#head = this.#body = undefined;
    this.#takenOver?.(TAKEN);
  }

  async #sendSwitch(response: Uint8Array): Promise<void> {
    // Earlier pipelined responses first; the 101 head from its own array,
    // so it never shares the buffer of a write in flight.
    const flushing = this.#out.flush();
    if (flushing) await flushing;
    await this.#out.direct(response);
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
        abandon(reply);
        await this.#out.flush();
      }
      // A client that ends its side meanwhile still waits for the response.
      // A request offering an upgrade leaves the socket unread; one with a
      // body is watched once the handler has read it all.
      let value: Reply | typeof TAKEN;
      if (!head.upgrade) {
        if (!head.chunked && !(head.contentLength > 0)) {
          input.watch(this.#gone, this.#limits.maxHeaderBytes, false);
        } else body.whenRead(() => this.#watchAfterBody(req));
        value = await reply;
      } else {
        // The handler may take the connection over: then this exchange
        // ends at once, leaving the handler to run (see #release).
        const taken = new Promise<typeof TAKEN>((resolve) => this.#takenOver = resolve);
        value = await Promise.race([reply, taken]);
        this.#takenOver = undefined;
      }
      const upgraded = this.#upgraded;
      if (upgraded !== undefined) {
        if (value === TAKEN) upgraded.reply = reply;
        return false;
      }
      res = toResponse(value as Reply);
    } catch (err) {
      if (this.#upgraded !== undefined) {
        this.#upgraded.error = err;
        return false;
      }
      res = this.#errorResponse(err, req, body);
    } finally {
      body.whenRead(null);
      input.unwatch();
      this.#responseDeadline = 0;
    }
    return await this.#respond(res, head, body);
  }

  // The handler read the whole request body while still working on the
  // response: from now on a client that goes away cancels it.
  #watchAfterBody(req: HttpRequest): void {
    if (this.#req !== req || this.#upgraded !== undefined || this.#phase !== HANDLER) return;
    this.#input.watch(this.#gone, this.#limits.maxHeaderBytes, false);
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
    const sent = this.#responder.send(res, head, keepAlive, body.done);
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

  #errorResponse(err: unknown, req: HttpRequest, body: Body): HttpResponse {
    if (this.#task?.cancelled) throw err;
    if (err instanceof HttpError) return errorJson(err.status, err.message, err.headers);
    if (body.failed && err instanceof TimeoutError) return errorJson(408, "request body timeout");
    if (body.failed) throw err;
    this.#host.onError(err, req);
    return errorJson(500, "internal server error");
  }

  // Answers a failed exchange if nothing was sent yet, then closes lingering.
  async #fail(err: unknown): Promise<void> {
    if (this.#task?.cancelled || this.#conn.closed || this.#upgraded !== undefined) return;
    let status = 0, message = "";
    if (err instanceof HttpError) {
      status = err.status;
      message = err.message;
    } else if (isQuiet(err)) {
      return;
    } else {
      status = 500;
      message = "internal server error";
      console.error("lunet/http: connection failed:", err);
    }
    if (this.#responder.responding) return;
    this.#phase = CLOSING;
    try {
      await this.#responder.sendError(status, message);
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

// True for the errors a connection ends with when its socket or task
// ends (closed, reset, timed out, cancelled): not reported as failures.
function isQuiet(err: unknown): boolean {
  return err instanceof ClosedError || err instanceof ConnectionReset || isEarlyWake(err);
}

// True for the errors that end an idle wait quietly: shutdown or idle timeout.
function endsIdle(err: unknown): boolean {
  return err instanceof IdleClose || err instanceof TimeoutError;
}

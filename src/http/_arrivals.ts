/**
 * The readiness fast path of an HTTP connection: requests that arrive
 * while the connection is idle are served from the input's readiness
 * callback, right where they are noticed, as long as each completes at
 * once. No promise is settled and no wait is restarted per request; what
 * cannot complete at once is handed back to the connection's serving loop.
 *
 * @module
 */
import { abandon } from "../_wait.ts";
import type { HeadScanner } from "./_heads.ts";
import type { Input } from "./_input.ts";
import type { RequestHead } from "./_parser.ts";
import type { Output } from "./_writer.ts";

/** What the fast path needs from its connection. */
export interface ArrivalsOwner {
  /** Runs one exchange; whether to keep the connection (a boolean when nothing waited). */
  exchange(head: RequestHead): boolean | Promise<boolean>;
  /** Marks the connection idle: waiting for a request, nothing of it received. */
  setIdle(): void;
}

/**
 * The idle wait of one connection with its fast path. The serving loop
 * waits with {@linkcode Arrivals.wait}; once it returns, the loop takes
 * what the fast path left: {@linkcode Arrivals.takeLater} (the rest of an
 * exchange that had to wait), else {@linkcode Arrivals.takeHead} (a
 * request with a body, parsed but not served).
 *
 * @example
 * ```ts ignore
 * const more = await arrivals.wait();
 * const later = arrivals.takeLater();
 * if (later !== undefined) keepAlive = await later;
 * else head = arrivals.takeHead();
 * ```
 */
export class Arrivals {
  #owner: ArrivalsOwner;
  #server: { readonly draining: boolean };
  #heads: HeadScanner;
  #input: Input;
  #out: Output;
  #idleTimeout: number;
  // What the loop continues with after step() handed over: false to stop,
  // or the pending rest of an exchange (resolving to keep-alive).
  #later: false | Promise<boolean> | undefined = undefined;
  // A request head step() parsed but left for the loop.
  #nextHead: RequestHead | undefined = undefined;

  /**
   * @param owner the connection
   * @param server its server (`draining` once a graceful shutdown began)
   * @param heads the request heads of its input
   * @param input its input
   * @param out its output
   * @param idleTimeout how long it may stay idle (ms)
   */
  constructor(
    owner: ArrivalsOwner,
    server: { readonly draining: boolean },
    heads: HeadScanner,
    input: Input,
    out: Output,
    idleTimeout: number,
  ) {
    this.#owner = owner;
    this.#server = server;
    this.#heads = heads;
    this.#input = input;
    this.#out = out;
    this.#idleTimeout = idleTimeout;
  }

  /**
   * Waits while the connection is idle, serving what arrives meanwhile:
   * true once bytes are left for the loop (or handed over), false when the
   * peer ended its side. Fails like {@linkcode Input.more} (idle timeout,
   * interrupt).
   */
  wait(): Promise<boolean> {
    return this.#input.more("http idle", Date.now() + this.#idleTimeout, this.#step);
  }

  /** The rest of an exchange the last wait handed over, if any (taken once). */
  takeLater(): false | Promise<boolean> | undefined {
    const later = this.#later;
    this.#later = undefined;
    return later;
  }

  /** A request head the last wait parsed but left to serve, if any (taken once). */
  takeHead(): RequestHead | undefined {
    const head = this.#nextHead;
    this.#nextHead = undefined;
    return head;
  }

  /**
   * Leaves an exchange the fast path began unawaited (the task was
   * cancelled meanwhile): it ends with the connection.
   */
  abandon(): void {
    if (this.#later instanceof Promise) abandon(this.#later);
  }

  /**
   * The wait's step: serves the requests buffered so far as long as each
   * completes at once (the handler returns a response, not a promise, and
   * the socket takes it). Returns true to keep waiting (or a promise of
   * that while the response is written); anything else is left for the
   * loop (in `#later` when it is the rest of an exchange).
   */
  #step = (): boolean | Promise<boolean> => {
    // The responses served in one go share one clock read for their date.
    this.#out.holdDate(true);
    try {
      return this.#serveBuffered();
    } finally {
      this.#out.holdDate(false);
    }
  };

  #serveBuffered(): boolean | Promise<boolean> {
    const owner = this.#owner, server = this.#server, heads = this.#heads, input = this.#input;
    for (;;) {
      if (server.draining) return false;
      const head = heads.buffered();
      if (head === undefined) {
        // A partial head is read with the header timeout by the loop.
        if (input.available !== 0 || heads.begun) return false;
        // The next request is read once the response is out; meanwhile the
        // write's own stall timeout applies, not the idle one.
        const flushing = this.#out.flush();
        if (flushing === undefined) return this.#idleAgain();
        input.deadline = 0;
        return flushing.then(this.#idleAgain);
      }
      if (head.chunked || head.contentLength > 0) {
        // Reading a body waits on the input, which this wait holds: the
        // loop serves this request.
        this.#nextHead = head;
        return false;
      }
      const keepAlive = owner.exchange(head);
      if (keepAlive !== true) {
        this.#later = keepAlive;
        return false;
      }
    }
  }

  // Back to waiting for the next request, unless a shutdown began.
  #idleAgain = (): boolean => {
    if (this.#server.draining) return false;
    this.#owner.setIdle();
    this.#input.deadline = Date.now() + this.#idleTimeout;
    return true;
  };
}

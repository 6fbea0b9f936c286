/**
 * The defences of an HTTP/2 connection: what a peer may make the server
 * do or hold is bounded, and going past a bound ends the connection with
 * GOAWAY and the code that says why. Rapid reset (CVE-2023-44487: streams
 * opened and reset at once) is counted per second, and a stream's
 * handler counts against the stream limit until its task has ended, so
 * resets cannot pile up work; floods of SETTINGS, PING and empty frames
 * are counted too, and control replies a peer does not read are capped —
 * all ENHANCE_YOUR_CALM. A SETTINGS frame left unacknowledged gets
 * SETTINGS_TIMEOUT. The sweeper's {@linkcode Guard.tick} enforces the
 * timeouts: idle, request body stalls, response time, and a write the
 * peer does not read.
 *
 * @example
 * ```ts ignore
 * const guard = new Guard(connection);
 * guard.ping(); // throws H2ConnectionError(ENHANCE_YOUR_CALM) past the rate
 * ```
 *
 * @module
 */
import { TimeoutError } from "../errors.ts";
import {
  ENHANCE_YOUR_CALM,
  H2ConnectionError,
  INTERNAL_ERROR,
  SETTINGS_TIMEOUT,
} from "./_h2_frames.ts";
import type { H2Stream } from "./_h2_stream.ts";
import type { H2Output } from "./_h2_output.ts";
import type { HttpLimits } from "./limits.ts";
import type { Http2Config } from "./_h2_options.ts";

/** Most control replies buffered for a peer that does not read them. */
const MAX_UNREAD = 1024 * 1024;
/** Time the peer has to acknowledge our SETTINGS. */
const SETTINGS_WAIT = 10_000;

/** What the guard watches. */
export interface Guarded {
  readonly out: H2Output;
  readonly limits: HttpLimits;
  readonly config: Http2Config;
  readonly streams: Map<number, H2Stream>;
  readonly lastActive: number;
  fail(err: H2ConnectionError): void;
  drain(): void;
  abort(): void;
  resetStream(stream: H2Stream, code: number): void;
}

/** The counters and timers of one connection. */
export class Guard {
  /** Stream tasks still running (reset ones included). */
  busy = 0;
  #conn: Guarded;
  #second = 0;
  #resets = 0;
  #settings = 0;
  #pings = 0;
  #empty = 0;
  #settingsSentAt = 0;

  /** @param conn the connection */
  constructor(conn: Guarded) {
    this.#conn = conn;
  }

  #now(): void {
    const second = Math.floor(Date.now() / 1000);
    if (second === this.#second) return;
    this.#second = second;
    this.#resets =
      this.#settings =
      this.#pings =
      this.#empty =
        0;
  }

  #calm(what: string): never {
    throw new H2ConnectionError(ENHANCE_YOUR_CALM, what);
  }

  #unread(): void {
    if (this.#conn.out.pending > MAX_UNREAD) this.#calm("control replies left unread");
  }

  /** A stream's task started. */
  opened(): void {
    this.busy++;
  }

  /** A stream's task ended. */
  closed(): void {
    this.busy--;
  }

  /** The client reset a stream. */
  reset(): void {
    this.#now();
    if (++this.#resets > this.#conn.config.maxResetsPerSecond) {
      this.#calm("too many streams reset (rapid reset)");
    }
  }

  /** A SETTINGS frame came. */
  settings(): void {
    this.#now();
    if (++this.#settings > this.#conn.config.maxControlFramesPerSecond) {
      this.#calm("SETTINGS flood");
    }
    this.#unread();
  }

  /** A PING came. */
  ping(): void {
    this.#now();
    if (++this.#pings > this.#conn.config.maxControlFramesPerSecond) this.#calm("PING flood");
    this.#unread();
  }

  /** An empty DATA or CONTINUATION frame that ends nothing came. */
  emptyFrame(): void {
    this.#now();
    if (++this.#empty > this.#conn.config.maxControlFramesPerSecond) {
      this.#calm("empty frame flood");
    }
  }

  /** Our SETTINGS went out. */
  settingsSent(): void {
    this.#settingsSentAt = Date.now();
  }

  /** The peer acknowledged our SETTINGS. */
  settingsAcked(): void {
    this.#settingsSentAt = 0;
  }

  /** Enforces the timeouts at time `now` (called by the server's sweeper). */
  tick(now: number): void {
    const conn = this.#conn, limits = conn.limits;
    if (this.#settingsSentAt !== 0 && now - this.#settingsSentAt > SETTINGS_WAIT) {
      this.#settingsSentAt = 0;
      return conn.fail(new H2ConnectionError(SETTINGS_TIMEOUT, "SETTINGS not acknowledged"));
    }
    if (conn.out.writingSince !== 0 && now - conn.out.writingSince > limits.bodyTimeout) {
      return conn.abort();
    }
    if (conn.streams.size === 0) {
      if (now - conn.lastActive > limits.idleTimeout) conn.drain();
      return;
    }
    for (const stream of conn.streams.values()) {
      if (stream.startedAt !== 0 && now - stream.startedAt > limits.responseTimeout) {
        stream.startedAt = 0;
        conn.resetStream(stream, INTERNAL_ERROR);
        continue;
      }
      const input = stream.input;
      if (input !== null && input.deadline !== 0 && now >= input.deadline) {
        input.interrupt(new TimeoutError(input.waitingFor));
      }
    }
  }
}

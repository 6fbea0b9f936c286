/**
 * The ping and idle deadlines of one connection: a ping every
 * `pingInterval` ms (the connection is lost when the previous one has no
 * pong yet), and a close when nothing was received for `idleTimeout` ms.
 * Activity only moves a timestamp; the deadlines ring through the
 * worker's one {@linkcode clock}. Made only for a connection that has one
 * of them.
 *
 * @module
 */
import { clock } from "./_clock.ts";

/** The connection is still open (asked before every step; false stops the deadlines). */
export const OPEN = 0;
/** Time to send a ping. */
export const PING = 1;
/** The last ping had no pong by the next one: drop the connection. */
export const LOST = 2;
/** Nothing was received for the idle timeout: close (1001). */
export const IDLE = 3;

/** What the deadlines ask of their connection; the answer matters for `OPEN` only. */
export type KeepaliveHost = (event: number) => boolean;

/** The deadlines of one connection. */
export class Keepalive {
  readonly #host: KeepaliveHost;
  readonly #pingEvery: number;
  readonly #idle: number;
  #nextPing = 0;
  #lastSeen = 0;
  #awaitingPong = false;
  readonly #ring = (): void => this.#tick();

  /**
   * @param host the connection's answers
   * @param pingEvery ms between pings (0: none)
   * @param idle ms of silence before closing (0: never)
   */
  constructor(host: KeepaliveHost, pingEvery: number, idle: number) {
    this.#host = host;
    this.#pingEvery = pingEvery;
    this.#idle = idle;
  }

  /** Starts the deadlines from now. */
  start(): void {
    this.#lastSeen = Date.now();
    this.#nextPing = this.#lastSeen + this.#pingEvery;
    this.#arm();
  }

  /** Something was received. */
  seen(): void {
    if (this.#idle > 0) this.#lastSeen = Date.now();
  }

  /** A pong was received. */
  ponged(): void {
    this.#awaitingPong = false;
  }

  /** Ends the deadlines. */
  stop(): void {
    clock.clear(this.#ring);
  }

  #arm(): void {
    if (!this.#host(OPEN)) return;
    let next = Infinity;
    if (this.#pingEvery > 0) next = this.#nextPing;
    if (this.#idle > 0) next = Math.min(next, this.#lastSeen + this.#idle);
    if (next !== Infinity) clock.set(this.#ring, next);
  }

  #tick(): void {
    if (!this.#host(OPEN)) return;
    const now = Date.now();
    if (this.#idle > 0 && now - this.#lastSeen >= this.#idle) {
      this.#host(IDLE);
      return;
    }
    if (this.#pingEvery > 0 && now >= this.#nextPing) {
      if (this.#awaitingPong) {
        this.#host(LOST);
        return;
      }
      this.#awaitingPong = true;
      this.#host(PING);
      this.#nextPing = now + this.#pingEvery;
    }
    this.#arm();
  }
}

/**
 * The client's side of the session state that outlives a connection:
 * packet identifiers, outgoing QoS 1/2 messages in flight (resent with DUP
 * after a reconnect), the inflight window, the bounded offline queue, and
 * the identifiers of incoming QoS 2 messages awaiting their PUBREL.
 *
 * @module
 */
import { ResourceExhausted } from "../errors.ts";
import { park, type WaitOptions } from "../_wait.ts";
import type { Packet } from "./_codec.ts";

/** An outgoing QoS 1/2 PUBLISH awaiting its handshake. */
export interface Outgoing {
  id: number;
  /** The PUBLISH as the user made it (full topic, no alias). */
  packet: Packet;
  /** What comes next: PUBACK (QoS 1), PUBREC, or PUBCOMP after our PUBREL (QoS 2). */
  stage: "puback" | "pubrec" | "pubcomp";
  /** True once it went out on some connection (a resend then carries DUP). */
  sent: boolean;
  /** When it was handed over (message expiry is counted from here). */
  since: number;
  done: PromiseWithResolvers<void>;
}

/** A publish made while disconnected, sent after the next connect. */
export interface Queued {
  packet: Packet;
  since: number;
  done: PromiseWithResolvers<void>;
}

/** An outgoing SUBSCRIBE or UNSUBSCRIBE awaiting its acknowledgement. */
export interface Request {
  packet: Packet;
  done: PromiseWithResolvers<Packet>;
}

/** See the module notes. */
export class SessionState {
  readonly outgoing = new Map<number, Outgoing>();
  readonly requests = new Map<number, Request>();
  readonly incoming = new Set<number>();
  offline: Queued[] = [];
  #nextId = 1;
  #window: number;
  #slotWaiters: Array<() => void> = [];

  constructor(window: number, readonly offlineLimit: number) {
    this.#window = window;
  }

  /** The inflight window now in force. */
  get window(): number {
    return this.#window;
  }

  /** Sets the window (MQTT 5.0 receive maximum of the broker, capped by the option). */
  set window(n: number) {
    this.#window = n;
    this.#wakeSlots();
  }

  /** A packet identifier in use by nothing else. */
  nextId(): number {
    for (let tries = 0; tries < 65535; tries++) {
      const id = this.#nextId;
      this.#nextId = id === 65535 ? 1 : id + 1;
      if (!this.outgoing.has(id) && !this.requests.has(id)) return id;
    }
    throw new ResourceExhausted("mqtt: all 65535 packet identifiers are in use", "ENOBUFS");
  }

  /** Resolves when fewer than `window` QoS 1/2 messages are in flight. */
  slot(what: string, opts: WaitOptions | undefined): Promise<void> | undefined {
    if (this.outgoing.size < this.#window) return undefined;
    return park<void>(what, opts, (resolve) => {
      const wake = () => resolve();
      this.#slotWaiters.push(wake);
      return () => {
        const i = this.#slotWaiters.indexOf(wake);
        if (i >= 0) this.#slotWaiters.splice(i, 1);
      };
    });
  }

  /** Removes a finished message and lets a waiting publish in. */
  finish(id: number): Outgoing | undefined {
    const entry = this.outgoing.get(id);
    if (entry) {
      this.outgoing.delete(id);
      this.#wakeSlots();
    }
    return entry;
  }

  #wakeSlots(): void {
    let room = this.#window - this.outgoing.size;
    while (room-- > 0 && this.#slotWaiters.length > 0) this.#slotWaiters.shift()!();
  }

  /** Queues a publish made while disconnected; throws when the queue is full. */
  enqueue(packet: Packet, what: string): Queued {
    if (this.offline.length >= this.offlineLimit) {
      throw new ResourceExhausted(
        `${what}: offline queue full (${this.offlineLimit} messages wait for the connection)`,
        "ENOBUFS",
      );
    }
    const q: Queued = { packet, since: Date.now(), done: Promise.withResolvers<void>() };
    this.offline.push(q);
    return q;
  }

  /** Fails everything still waiting (the client closed). */
  failAll(err: () => Error): void {
    for (const o of this.outgoing.values()) o.done.reject(err());
    this.outgoing.clear();
    for (const r of this.requests.values()) r.done.reject(err());
    this.requests.clear();
    for (const q of this.offline) q.done.reject(err());
    this.offline = [];
    const waiters = this.#slotWaiters;
    this.#slotWaiters = [];
    for (const w of waiters) w();
  }
}

/**
 * The PUBLISH to send for `packet` after `since`: the message expiry
 * interval reduced by the time it waited, or `undefined` when it expired.
 */
export function unexpired(packet: Packet, since: number, dup: boolean): Packet | undefined {
  const expiry: number | undefined = packet.properties?.messageExpiryInterval;
  if (expiry === undefined) return dup ? { ...packet, dup: true } : packet;
  const left = expiry - Math.floor((Date.now() - since) / 1000);
  if (left <= 0) return undefined;
  return {
    ...packet,
    dup: dup || undefined,
    properties: { ...packet.properties, messageExpiryInterval: left },
  };
}

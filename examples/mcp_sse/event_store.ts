/**
 * Where the events of Streamable HTTP streams are kept so a client that
 * lost a stream can resume it: `GET` with `Last-Event-ID` replays what
 * came after that event on the same stream. An event id is unique within
 * its session and names its stream (`<stream>_<sequence>`).
 *
 * {@linkcode MemoryEventStore} keeps a bounded history per session in
 * memory, and a delivered request stream's events only for a while
 * (`keepDelivered`), so memory comes back after a burst of calls; a shared store (Redis, say) implements {@linkcode EventStore} to
 * let a client resume on another server process.
 *
 * @example
 * ```ts ignore
 * import { MemoryEventStore } from "./event_store.ts";
 * const store = new MemoryEventStore({ maxEvents: 100 });
 * const first = await store.append("session", "1", '{"jsonrpc":"2.0","method":"x"}');
 * await store.append("session", "1", '{"jsonrpc":"2.0","method":"y"}');
 * console.log((await store.replay("session", first))?.events.length); // 1
 * ```
 * @module
 */

/** One stored event. */
export interface StoredEvent {
  /** Its id (`<stream>_<sequence>`). */
  id: string;
  /** The serialized JSON-RPC message; empty for a priming event. */
  message: string;
}

/** What a resumption replays. */
export interface Replay {
  /** The stream the event id named. */
  streamId: string;
  /** The events after it, in order (priming events left out). */
  events: StoredEvent[];
  /** True when a shared store saw the stream end (its call is over). */
  complete?: boolean;
}

/** Storage of stream events, keyed by session. */
export interface EventStore {
  /** Stores one event sent on `streamId` (an empty `message` for a priming event); returns its id. */
  append(sessionId: string, streamId: string, message: string): string | Promise<string>;
  /**
   * The events of the stream `lastEventId` names that came after it, or
   * `undefined` when that event is not (or no longer) known.
   */
  replay(sessionId: string, lastEventId: string): Replay | undefined | Promise<Replay | undefined>;
  /** Forgets a session's events. */
  drop(sessionId: string): void | Promise<void>;
  /**
   * Request stream `streamId` was delivered to the end (its response is
   * out): a store may forget its events some time later.
   */
  delivered?(sessionId: string, streamId: string): void;
}

/** The stream an event id names, or `undefined` for an id not of this format. */
export function streamOf(eventId: string): string | undefined {
  const cut = eventId.lastIndexOf("_");
  return cut > 0 ? eventId.slice(0, cut) : undefined;
}

/** Options of {@linkcode MemoryEventStore}. */
export interface MemoryEventStoreOptions {
  /** Events kept per session, oldest dropped first (default 1000). */
  maxEvents?: number;
  /**
   * How long the events of a request stream are kept once its response
   * was delivered (the client may still resume it, having lost the
   * connection before the last event arrived), ms (default 5,000).
   */
  keepDelivered?: number;
}

/** The events of one stream: their sequence numbers (ascending) and messages. */
interface StreamLog {
  seqs: number[];
  messages: string[];
}

interface SessionLog {
  next: number;
  count: number;
  streams: Map<string, StreamLog>;
}

/** A delivered stream's events to forget at `at` (epoch ms). */
interface Expiry {
  at: number;
  sessionId: string;
  streamId: string;
}

/**
 * An {@linkcode EventStore} in this process's memory, bounded per session;
 * a delivered request stream's events go after
 * {@linkcode MemoryEventStoreOptions.keepDelivered}.
 */
export class MemoryEventStore implements EventStore {
  /** Events kept per session. */
  readonly maxEvents: number;
  /** How long a delivered stream's events are kept, ms. */
  readonly keepDelivered: number;
  readonly #sessions = new Map<string, SessionLog>();
  // In the order they fall due (every stream waits the same time).
  #expiries: Expiry[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** @param opts the bounds */
  constructor(opts: MemoryEventStoreOptions = {}) {
    this.maxEvents = opts.maxEvents ?? 1000;
    this.keepDelivered = opts.keepDelivered ?? 5_000;
  }

  /** Stores one event; returns its id. */
  append(sessionId: string, streamId: string, message: string): string {
    let log = this.#sessions.get(sessionId);
    if (!log) this.#sessions.set(sessionId, log = { next: 1, count: 0, streams: new Map() });
    let stream = log.streams.get(streamId);
    if (!stream) log.streams.set(streamId, stream = { seqs: [], messages: [] });
    const seq = log.next++;
    stream.seqs.push(seq);
    stream.messages.push(message);
    if (++log.count > this.maxEvents) dropOldest(log);
    return `${streamId}_${seq}`;
  }

  /** The events after `lastEventId` on its stream. */
  replay(sessionId: string, lastEventId: string): Replay | undefined {
    const streamId = streamOf(lastEventId);
    const seq = Number(lastEventId.slice(lastEventId.lastIndexOf("_") + 1));
    if (streamId === undefined || !Number.isInteger(seq)) return undefined;
    const stream = this.#sessions.get(sessionId)?.streams.get(streamId);
    const at = stream === undefined ? -1 : indexOf(stream.seqs, seq);
    if (at === -1) return undefined;
    const events: StoredEvent[] = [];
    for (let i = at + 1; i < stream!.seqs.length; i++) {
      const message = stream!.messages[i];
      if (message !== "") events.push({ id: `${streamId}_${stream!.seqs[i]}`, message });
    }
    return { streamId, events };
  }

  /** Stream `streamId`'s response was delivered: its events go after `keepDelivered`. */
  delivered(sessionId: string, streamId: string): void {
    if (!this.#sessions.get(sessionId)?.streams.has(streamId)) return;
    this.#expiries.push({ at: Date.now() + this.keepDelivered, sessionId, streamId });
    if (this.#timer === undefined) this.#arm();
  }

  /** Forgets a session's events. */
  drop(sessionId: string): void {
    if (!this.#sessions.delete(sessionId)) return;
    const before = this.#expiries.length;
    this.#expiries = this.#expiries.filter((e) => e.sessionId !== sessionId);
    if (this.#expiries.length !== before) this.#arm();
  }

  /** Sessions with stored events. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Events stored, over every session. */
  get events(): number {
    let n = 0;
    for (const log of this.#sessions.values()) n += log.count;
    return n;
  }

  // (Re)sets the timer for the first expiry, or clears it when none is left.
  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const first = this.#expiries[0];
    if (first === undefined) return;
    const timer = setTimeout(() => this.#expire(), Math.max(0, first.at - Date.now()));
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  #expire(): void {
    const now = Date.now();
    let due = 0;
    while (due < this.#expiries.length && this.#expiries[due].at <= now) {
      const { sessionId, streamId } = this.#expiries[due++];
      const log = this.#sessions.get(sessionId);
      const stream = log?.streams.get(streamId);
      if (stream === undefined) continue;
      log!.count -= stream.seqs.length;
      log!.streams.delete(streamId);
    }
    this.#expiries.splice(0, due);
    this.#arm();
  }
}

/** Drops the oldest event of a session (the smallest first sequence of its streams). */
function dropOldest(log: SessionLog): void {
  let oldest: [string, StreamLog] | undefined;
  for (const entry of log.streams) {
    if (oldest === undefined || entry[1].seqs[0] < oldest[1].seqs[0]) oldest = entry;
  }
  const [streamId, stream] = oldest!;
  stream.seqs.shift();
  stream.messages.shift();
  if (stream.seqs.length === 0) log.streams.delete(streamId);
  log.count--;
}

/** The index of `seq` in the ascending `seqs`, or -1. */
function indexOf(seqs: number[], seq: number): number {
  let lo = 0, hi = seqs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (seqs[mid] === seq) return mid;
    if (seqs[mid] < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

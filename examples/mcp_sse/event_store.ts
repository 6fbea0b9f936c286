/**
 * Where the events of Streamable HTTP streams are kept so a client that
 * lost a stream can resume it: `GET` with `Last-Event-ID` replays what
 * came after that event on the same stream. An event id is unique within
 * its session and names its stream (`<stream>_<sequence>`).
 *
 * {@linkcode MemoryEventStore} keeps a bounded history per session in
 * memory; a shared store (Redis, say) implements {@linkcode EventStore} to
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
}

interface SessionLog {
  next: number;
  /** Sequence number of `events[0]`. */
  first: number;
  events: { streamId: string; message: string }[];
}

/** An {@linkcode EventStore} in this process's memory, bounded per session. */
export class MemoryEventStore implements EventStore {
  /** Events kept per session. */
  readonly maxEvents: number;
  readonly #sessions = new Map<string, SessionLog>();

  /** @param opts the bound */
  constructor(opts: MemoryEventStoreOptions = {}) {
    this.maxEvents = opts.maxEvents ?? 1000;
  }

  /** Stores one event; returns its id. */
  append(sessionId: string, streamId: string, message: string): string {
    let log = this.#sessions.get(sessionId);
    if (!log) this.#sessions.set(sessionId, log = { next: 1, first: 1, events: [] });
    const seq = log.next++;
    log.events.push({ streamId, message });
    if (log.events.length > this.maxEvents) {
      const drop = log.events.length - this.maxEvents;
      log.events.splice(0, drop);
      log.first += drop;
    }
    return `${streamId}_${seq}`;
  }

  /** The events after `lastEventId` on its stream. */
  replay(sessionId: string, lastEventId: string): Replay | undefined {
    const log = this.#sessions.get(sessionId);
    const streamId = streamOf(lastEventId);
    const seq = Number(lastEventId.slice(lastEventId.lastIndexOf("_") + 1));
    if (!log || streamId === undefined || !Number.isInteger(seq)) return undefined;
    const at = seq - log.first;
    if (at < 0 || at >= log.events.length || log.events[at].streamId !== streamId) {
      return undefined;
    }
    const events: StoredEvent[] = [];
    for (let i = at + 1; i < log.events.length; i++) {
      const e = log.events[i];
      if (e.streamId === streamId && e.message !== "") {
        events.push({ id: `${streamId}_${log.first + i}`, message: e.message });
      }
    }
    return { streamId, events };
  }

  /** Forgets a session's events. */
  drop(sessionId: string): void {
    this.#sessions.delete(sessionId);
  }

  /** Sessions with stored events. */
  get sessions(): number {
    return this.#sessions.size;
  }
}

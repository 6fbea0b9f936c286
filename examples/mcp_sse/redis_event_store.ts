/**
 * The events of Streamable HTTP streams kept on a bus's replay log (Redis
 * Streams, bounded with `MAXLEN ~`), one log per session holding every
 * stream of it, so any instance can resume any stream: an event id is
 * `<stream>_<entry id>`, the entry id the one Redis gave it. Beside the
 * events, a log holds markers (an empty message: a priming event, or where
 * a connection started reading) and the end of each POST stream, so an
 * instance that did not run the call knows when the stream is over.
 *
 * @example
 * ```ts ignore
 * import * as redis from "../../drivers/redis.ts";
 * import { redisBus } from "../../src/bus.ts";
 * import { BusEventStore } from "./redis_event_store.ts";
 * const db = await redis.open("redis://127.0.0.1:6379");
 * const store = new BusEventStore(redisBus(db, { prefix: "mcp:", maxLen: 1000 }), db, {
 *   prefix: "mcp:",
 *   ttl: 600_000,
 * });
 * const first = await store.append("session", "0", '{"jsonrpc":"2.0","method":"x"}');
 * await store.append("session", "0", '{"jsonrpc":"2.0","method":"y"}');
 * console.log((await store.replay("session", first))?.events.length); // 1
 * ```
 * @module
 */
import type { Redis } from "../../drivers/redis.ts";
import type { Bus, BusEntry } from "../../src/bus.ts";
import { compareIds } from "../../src/bus/_ids.ts";
import { type EventStore, type Replay, type StoredEvent, streamOf } from "./event_store.ts";

/** A Redis stream entry id: `<ms>-<seq>`. */
const ENTRY = /^\d+-\d+$/;

/** The entry part of an event id (`<stream>_<entry>`). */
export function entryOf(eventId: string): string {
  return eventId.slice(eventId.lastIndexOf("_") + 1);
}

/** What a read after an entry found on one stream. */
export interface StreamRead {
  /** The events, in order (markers left out). */
  events: StoredEvent[];
  /** The newest entry read of that stream, marker or event (to read after next time). */
  last: string | undefined;
  /** True when the stream's end was among them. */
  complete: boolean;
}

/** Options of {@linkcode BusEventStore}. */
export interface BusEventStoreOptions {
  /** The bus's key prefix (the logs are `<prefix>log:<session>`). */
  prefix: string;
  /** A log expires this long after its last event, ms (the sessions' time to live). */
  ttl: number;
}

/** An {@linkcode EventStore} shared by every instance on one bus. */
export class BusEventStore implements EventStore {
  readonly #bus: Bus;
  readonly #redis: Redis;
  readonly #opts: BusEventStoreOptions;
  /** When each log's expiry was last pushed back, epoch ms. */
  readonly #renewed = new Map<string, number>();

  /**
   * @param bus the bus whose replay log holds the events
   * @param redis the bus's connection, to expire and delete logs
   * @param opts key prefix and expiry
   */
  constructor(bus: Bus, redis: Redis, opts: BusEventStoreOptions) {
    this.#bus = bus;
    this.#redis = redis;
    this.#opts = opts;
  }

  /** Stores one event (an empty `message`: a marker); returns its id. */
  async append(sessionId: string, streamId: string, message: string): Promise<string> {
    return `${streamId}_${await this.#add(sessionId, { s: streamId, m: message })}`;
  }

  /** Stores the end of POST stream `streamId`. */
  async complete(sessionId: string, streamId: string): Promise<void> {
    await this.#add(sessionId, { s: streamId, end: 1 });
  }

  /**
   * The events after `lastEventId` on its stream, or `undefined` when the
   * log no longer reaches back to it (trimmed, expired or never there).
   */
  async replay(sessionId: string, lastEventId: string): Promise<Replay | undefined> {
    const streamId = streamOf(lastEventId);
    const entry = entryOf(lastEventId);
    if (streamId === undefined || !ENTRY.test(entry)) return undefined;
    const log = `log:${sessionId}`;
    const [oldest, after] = await Promise.all([
      this.#bus.readAfter(log, "0", { count: 1 }),
      this.#bus.readAfter(log, entry),
    ]);
    if (!oldest.length || compareIds(entry, oldest[0].id) < 0) return undefined;
    const read = collect(streamId, after);
    return { streamId, events: read.events, complete: read.complete };
  }

  /** What stream `streamId` got after entry `after` (no check that `after` is still kept). */
  async read(sessionId: string, streamId: string, after: string): Promise<StreamRead> {
    return collect(streamId, await this.#bus.readAfter(`log:${sessionId}`, after));
  }

  /** Forgets a session's events. */
  async drop(sessionId: string): Promise<void> {
    this.#renewed.delete(sessionId);
    await this.#redis.del(this.#key(sessionId));
  }

  async #add(sessionId: string, data: object): Promise<string> {
    const id = await this.#bus.append(`log:${sessionId}`, JSON.stringify(data));
    const now = Date.now();
    if (now - (this.#renewed.get(sessionId) ?? 0) > this.#opts.ttl / 10) {
      if (this.#renewed.size >= 10_000) this.#forget(now);
      this.#renewed.set(sessionId, now);
      await this.#redis.expire(this.#key(sessionId), this.#opts.ttl);
    }
    return id;
  }

  /** Forgets the renewal times older than the expiry (their logs are gone by now). */
  #forget(now: number): void {
    for (const [id, at] of this.#renewed) if (now - at > this.#opts.ttl) this.#renewed.delete(id);
  }

  #key(sessionId: string): string {
    return `${this.#opts.prefix}log:${sessionId}`;
  }
}

/** The entries of one stream among `entries`. */
function collect(streamId: string, entries: BusEntry[]): StreamRead {
  const read: StreamRead = { events: [], last: undefined, complete: false };
  for (const entry of entries) {
    let data: { s?: unknown; m?: unknown; end?: unknown };
    try {
      data = JSON.parse(entry.data);
    } catch {
      continue; // not written by this store
    }
    if (data.s !== streamId) continue;
    read.last = entry.id;
    if (data.end) read.complete = true;
    else if (typeof data.m === "string" && data.m !== "") {
      read.events.push({ id: `${streamId}_${entry.id}`, message: data.m });
    }
  }
  return read;
}

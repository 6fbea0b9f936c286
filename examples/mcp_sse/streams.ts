/**
 * The event streams of one Streamable HTTP session: stream `0` is the
 * standalone stream a client opens with `GET` (for messages not tied to a
 * request), the others answer the POSTs replied to with SSE.
 *
 * Every message sent on a stream is stored first (an {@linkcode EventStore}
 * gives it an id naming the stream), then written to the connection that
 * holds the stream, if any. A stream can outlive its connection: the
 * server may close the connection mid-call (SEP-1699 polling, after a
 * `retry:` hint), or a standalone stream may drop; a `GET` with
 * `Last-Event-ID` then takes the stream over, replays what the client
 * missed and goes on live until the stream completes.
 *
 * With a {@linkcode StreamRelay} (shared state, `redis_sessions.ts`) the
 * session lives on several instances and any of them may hold a stream:
 * POST stream ids name the instance that runs the call (it alone sends on
 * them); the standalone stream has senders everywhere. A connection that
 * holds a stream another instance sends on reads the shared log after the
 * last entry it wrote whenever it is told something was stored, so it
 * writes every event once and in order, whoever sent it; a connection
 * taking a stream over tells the others, and the older one ends.
 *
 * @example
 * ```ts ignore
 * import { MemoryEventStore } from "./event_store.ts";
 * import { StreamHub } from "./streams.ts";
 * const hub = new StreamHub("session-id", new MemoryEventStore(), { retry: 1000, priming: () => true });
 * const id = hub.open();
 * // in an sse() producer: await hub.serve(id, stream);
 * await hub.send(id, '{"jsonrpc":"2.0","method":"notifications/progress"}');
 * hub.complete(id);
 * ```
 * @module
 */
import { Flag } from "../../mod.ts";
import type { SseEvent, SseStream } from "../../src/http/mod.ts";
import { type EventStore, type StoredEvent, streamOf } from "./event_store.ts";
import { compareIds } from "../../src/bus/_ids.ts";
import { entryOf, type StreamRead } from "./redis_event_store.ts";

/** The id of the standalone (`GET`) stream. */
export const STANDALONE = "0";

/** How {@linkcode StreamHub.serve} ended. */
export type ServeEnd = "complete" | "detached" | "closed";

/** What a hub on shared state needs from the other instances. */
export interface StreamRelay {
  /** This instance's id: it starts the ids of the POST streams opened here. */
  readonly instance: string;
  /** What stream `streamId` got after entry `after` in the shared log. */
  read(streamId: string, after: string): Promise<StreamRead>;
  /** Stores the end of POST stream `streamId` in the shared log. */
  complete(streamId: string): Promise<void>;
  /** Tells every instance that events of `streamId` were stored. */
  stored(streamId: string): Promise<void>;
  /** Tells the other instances that a connection here took `streamId` over at entry `at`. */
  taken(streamId: string, at: string): Promise<void>;
}

/** Options of {@linkcode StreamHub}. */
export interface StreamHubOptions {
  /** Reconnection delay suggested to clients, ms. */
  retry: number;
  /** Whether streams start with a priming event (an id and empty data; 2025-11-25). */
  priming: () => boolean;
  /** The other instances, when the session is shared. */
  relay?: StreamRelay;
}

/**
 * One connection holding a stream. Events are queued and written by the
 * connection's own task (in {@linkcode StreamHub.serve}), so a sender being
 * cancelled never breaks the connection.
 */
class Sink {
  readonly #wake = new Flag();
  readonly #queue: SseEvent[] = [];
  #end: ServeEnd | undefined;
  /** Live events held back while the priming event or a replay is prepared. */
  held: StoredEvent[] | undefined;
  /** Detach once the held events are out (asked for while they were held). */
  detachLater = false;
  /** The entry this connection started at (shared state): a later take-over ends it. */
  at: string | undefined;
  /** Reads the shared log after the newest entry written (shared state, pulled streams). */
  pull: (() => void) | undefined;

  push(ev: SseEvent): void {
    this.#queue.push(ev);
    this.#wake.set();
  }

  finish(end: ServeEnd): void {
    this.#end ??= end;
    this.#wake.set();
  }

  /** Writes the queue until finished; the client going away throws `Cancelled`. */
  async run(stream: SseStream): Promise<ServeEnd> {
    for (;;) {
      while (this.#queue.length) await stream.send(this.#queue.shift()!);
      if (this.#end !== undefined) return this.#end;
      this.#wake.clear();
      await this.#wake.wait();
    }
  }
}

interface StreamState {
  sink: Sink | undefined;
  complete: boolean;
}

/** The streams of one session. */
export class StreamHub {
  readonly #sessionId: string;
  readonly #store: EventStore;
  readonly #opts: StreamHubOptions;
  readonly #relay: StreamRelay | undefined;
  readonly #streams = new Map<string, StreamState>([[STANDALONE, {
    sink: undefined,
    complete: false,
  }]]);
  #next = 1;
  #closed = false;

  /**
   * @param sessionId the session the streams belong to
   * @param store where events are kept
   * @param opts retry hint, priming, and the relay of a shared session
   */
  constructor(sessionId: string, store: EventStore, opts: StreamHubOptions) {
    this.#sessionId = sessionId;
    this.#store = store;
    this.#opts = opts;
    this.#relay = opts.relay;
  }

  /** Opens the stream of one POST; returns its id. */
  open(): string {
    const n = this.#next++;
    const id = this.#relay ? `${this.#relay.instance}.${n}` : String(n);
    this.#streams.set(id, { sink: undefined, complete: false });
    return id;
  }

  /** True while a connection of this instance holds the standalone stream. */
  get standaloneHeld(): boolean {
    return this.#streams.get(STANDALONE)!.sink !== undefined;
  }

  /** True for the id of a stream this session opened (on any instance, when shared). */
  knows(streamId: string): boolean {
    if (streamId === STANDALONE) return true;
    if (this.#relay) return /^[0-9a-f]+\.\d+$/.test(streamId);
    return /^\d+$/.test(streamId) && Number(streamId) < this.#next;
  }

  /** True when `lastEventId` names an event of this session that can be resumed after. */
  async resumable(lastEventId: string): Promise<boolean> {
    const streamId = streamOf(lastEventId);
    if (streamId === undefined || !this.knows(streamId)) return false;
    return (await this.#store.replay(this.#sessionId, lastEventId)) !== undefined;
  }

  /** Stores a serialized message sent on stream `streamId` and writes it to its connection, if any. */
  async send(streamId: string, message: string): Promise<void> {
    const id = await this.#store.append(this.#sessionId, streamId, message);
    const sink = this.#streams.get(streamId)?.sink;
    if (this.#relay && (!sink || sink.pull)) return await this.#relay.stored(streamId);
    if (!sink) return;
    if (sink.held) sink.held.push({ id, message });
    else sink.push({ event: "message", id, data: message });
  }

  /** Marks a POST stream complete (its replies are out): its connection ends. */
  async complete(streamId: string): Promise<void> {
    const state = this.#streams.get(streamId);
    if (!state || streamId === STANDALONE) return;
    state.complete = true;
    const sink = state.sink;
    if (sink) sink.finish("complete");
    else this.#streams.delete(streamId);
    if (this.#relay) {
      // A connection elsewhere may hold the stream, or resume it later: the end goes in the log.
      await this.#relay.complete(streamId);
      if (!sink) await this.#relay.stored(streamId);
    }
  }

  /**
   * Closes the connection holding `streamId` but not the stream (SEP-1699):
   * the client is told when to come back (`retry:`) and resumes with
   * `Last-Event-ID`. False when no connection held it.
   */
  disconnect(streamId: string): boolean {
    const sink = this.#streams.get(streamId)?.sink;
    if (!sink) return false;
    if (sink.held) sink.detachLater = true; // after the priming event and what was held
    else {
      sink.push({ retry: this.#opts.retry });
      sink.finish("detached");
    }
    return true;
  }

  /** Shared state: something was stored on `streamId`; a pulled connection here reads it. */
  wake(streamId: string): void {
    this.#streams.get(streamId)?.sink?.pull?.();
  }

  /** Shared state: a connection elsewhere took `streamId` over at entry `at`; an older one here ends. */
  taken(streamId: string, at: string): void {
    const sink = this.#streams.get(streamId)?.sink;
    if (sink?.at !== undefined && compareIds(sink.at, at) < 0) sink.finish("detached");
  }

  /**
   * Serves stream `streamId` on `stream` (from an `sse()` producer) until
   * the stream completes, the server detaches it or the session closes; the
   * client going away cancels the calling task, so this throws `Cancelled`.
   * With `resumeAfter`, first replays the events after that one.
   */
  async serve(streamId: string, stream: SseStream, resumeAfter?: string): Promise<ServeEnd> {
    if (this.#closed) return "closed";
    let state = this.#streams.get(streamId);
    // Shared state: a stream another instance sends on is read from the log.
    const pulled = this.#relay !== undefined &&
      (streamId === STANDALONE || !streamId.startsWith(`${this.#relay.instance}.`));
    if (!state) {
      // A stream that completed and was forgotten (or, shared, one sent on elsewhere).
      state = { sink: undefined, complete: !pulled };
      this.#streams.set(streamId, state);
    }
    state.sink?.finish("detached"); // a newer connection takes the stream over
    const sink = new Sink();
    state.sink = sink;
    try {
      // A resumed stream is not primed again: the client holds an id already.
      const prime = resumeAfter === undefined && this.#opts.priming();
      if (prime || resumeAfter !== undefined || this.#relay) sink.held = [];
      if (prime || this.#relay) {
        // Shared state marks where every connection starts, primed or not.
        const appended = this.#store.append(this.#sessionId, streamId, "");
        const id = typeof appended === "string" ? appended : await appended;
        if (prime) sink.push({ id, retry: this.#opts.retry, data: "" });
        if (this.#relay) {
          sink.at = entryOf(id);
          // A POST stream opened here just now has no other connection to end.
          const fresh = !pulled && resumeAfter === undefined;
          if (!fresh) await this.#relay.taken(streamId, sink.at);
        }
      }
      if (pulled) this.#pullInto(sink, streamId, entryOf(resumeAfter ?? `_${sink.at}`));
      else await this.#replayInto(sink, resumeAfter);
      if (state.complete) sink.finish("complete");
      const end = await sink.run(stream);
      if (end === "complete") this.#store.delivered?.(this.#sessionId, streamId);
      return end;
    } finally {
      if (state.sink === sink) {
        state.sink = undefined;
        if (state.complete || pulled && streamId !== STANDALONE) this.#streams.delete(streamId);
      }
    }
  }

  /** Writes the events after `resumeAfter`, then those held meanwhile, each once. */
  async #replayInto(sink: Sink, resumeAfter: string | undefined): Promise<void> {
    const seen = new Set<string>();
    if (resumeAfter !== undefined) {
      const replay = await this.#store.replay(this.#sessionId, resumeAfter);
      for (const e of replay?.events ?? []) {
        seen.add(e.id);
        sink.push({ event: "message", id: e.id, data: e.message });
      }
    }
    const held = sink.held;
    sink.held = undefined;
    for (const e of held ?? []) {
      if (!seen.has(e.id)) sink.push({ event: "message", id: e.id, data: e.message });
    }
    if (sink.detachLater) {
      sink.push({ retry: this.#opts.retry });
      sink.finish("detached");
    }
  }

  /**
   * Makes `sink` read the shared log after entry `after`, now and each
   * time it is woken (wakes during a read make one more read), writing
   * each event once, in the log's order, and ending at the stream's end.
   */
  #pullInto(sink: Sink, streamId: string, after: string): void {
    const relay = this.#relay!;
    let last = after, reading = false, again = false;
    sink.held = undefined;
    const read = async () => {
      try {
        do {
          again = false;
          const got = await relay.read(streamId, last);
          for (const e of got.events) sink.push({ event: "message", id: e.id, data: e.message });
          if (got.last !== undefined) last = got.last;
          if (got.complete) sink.finish("complete");
        } while (again);
      } catch {
        // The log is out of reach: the client resumes from what it got.
        sink.push({ retry: this.#opts.retry });
        sink.finish("detached");
      } finally {
        reading = false;
      }
    };
    sink.pull = () => {
      if (reading) again = true;
      else {
        reading = true;
        read();
      }
    };
    sink.pull();
  }

  /** Ends every connection; later {@linkcode StreamHub.serve} calls return at once. */
  close(): void {
    this.#closed = true;
    for (const state of this.#streams.values()) state.sink?.finish("closed");
  }
}

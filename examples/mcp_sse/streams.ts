/**
 * The event streams of one Streamable HTTP session: stream `0` is the
 * standalone stream a client opens with `GET` (for messages not tied to a
 * request), streams `1`, `2`, … answer the POSTs replied to with SSE.
 *
 * Every message sent on a stream is stored first (an {@linkcode EventStore}
 * gives it an id naming the stream), then written to the connection that
 * holds the stream, if any. A stream can outlive its connection: the
 * server may close the connection mid-call (SEP-1699 polling, after a
 * `retry:` hint), or a standalone stream may drop; a `GET` with
 * `Last-Event-ID` then takes the stream over, replays what the client
 * missed and goes on live until the stream completes.
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

/** The id of the standalone (`GET`) stream. */
export const STANDALONE = "0";

/** How {@linkcode StreamHub.serve} ended. */
export type ServeEnd = "complete" | "detached" | "closed";

/** Options of {@linkcode StreamHub}. */
export interface StreamHubOptions {
  /** Reconnection delay suggested to clients, ms. */
  retry: number;
  /** Whether streams start with a priming event (an id and empty data; 2025-11-25). */
  priming: () => boolean;
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
  readonly #streams = new Map<string, StreamState>([[STANDALONE, {
    sink: undefined,
    complete: false,
  }]]);
  #next = 1;
  #closed = false;

  /**
   * @param sessionId the session the streams belong to
   * @param store where events are kept
   * @param opts retry hint and priming
   */
  constructor(sessionId: string, store: EventStore, opts: StreamHubOptions) {
    this.#sessionId = sessionId;
    this.#store = store;
    this.#opts = opts;
  }

  /** Opens the stream of one POST; returns its id. */
  open(): string {
    const id = String(this.#next++);
    this.#streams.set(id, { sink: undefined, complete: false });
    return id;
  }

  /** True while a connection holds the standalone stream. */
  get standaloneHeld(): boolean {
    return this.#streams.get(STANDALONE)!.sink !== undefined;
  }

  /** True for the id of a stream this session opened. */
  knows(streamId: string): boolean {
    return streamId === STANDALONE || (/^\d+$/.test(streamId) && Number(streamId) < this.#next);
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
    if (!sink) return;
    if (sink.held) sink.held.push({ id, message });
    else sink.push({ event: "message", id, data: message });
  }

  /** Marks a POST stream complete (its replies are out): its connection ends. */
  complete(streamId: string): void {
    const state = this.#streams.get(streamId);
    if (!state || streamId === STANDALONE) return;
    state.complete = true;
    if (state.sink) state.sink.finish("complete");
    else this.#streams.delete(streamId);
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

  /**
   * Serves stream `streamId` on `stream` (from an `sse()` producer) until
   * the stream completes, the server detaches it or the session closes; the
   * client going away cancels the calling task, so this throws `Cancelled`.
   * With `resumeAfter`, first replays the events after that one.
   */
  async serve(streamId: string, stream: SseStream, resumeAfter?: string): Promise<ServeEnd> {
    if (this.#closed) return "closed";
    let state = this.#streams.get(streamId);
    if (!state) {
      // A stream that completed and was forgotten: only its replay is left.
      state = { sink: undefined, complete: true };
      this.#streams.set(streamId, state);
    }
    state.sink?.finish("detached"); // a newer connection takes the stream over
    const sink = new Sink();
    state.sink = sink;
    try {
      // A resumed stream is not primed again: the client holds an id already.
      const prime = resumeAfter === undefined && this.#opts.priming();
      if (prime || resumeAfter !== undefined) sink.held = [];
      if (prime) {
        const appended = this.#store.append(this.#sessionId, streamId, "");
        const id = typeof appended === "string" ? appended : await appended;
        sink.push({ id, retry: this.#opts.retry, data: "" });
      }
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
      if (state.complete) sink.finish("complete");
      return await sink.run(stream);
    } finally {
      if (state.sink === sink) {
        state.sink = undefined;
        if (state.complete) this.#streams.delete(streamId);
      }
    }
  }

  /** Ends every connection; later {@linkcode StreamHub.serve} calls return at once. */
  close(): void {
    this.#closed = true;
    for (const state of this.#streams.values()) state.sink?.finish("closed");
  }
}

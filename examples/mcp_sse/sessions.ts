/**
 * MCP sessions: one per connected client, identified by an unguessable id.
 * A session knows what was negotiated (protocol version, the client's
 * capabilities, its log level, the resources it subscribed to), the
 * requests it is serving (so `notifications/cancelled` can stop them) and
 * the requests the server sent it; and it sends messages to its client:
 * on the one event stream of the SSE transport, or on a stream of its
 * {@linkcode StreamHub} on Streamable HTTP. Sessions idle longer than the
 * time to live expire; the store's sweeper removes them.
 *
 * @example
 * ```ts ignore
 * import { SessionStore } from "./sessions.ts";
 * const store = new SessionStore({ ttl: 60_000 });
 * const session = store.create("streamable")!;
 * console.log(store.get(session.id) === session); // true
 * store.close();
 * ```
 * @module
 */
import { Channel, sleep } from "../../mod.ts";
import { ClientRequests } from "./client_requests.ts";
import { features } from "./eras.ts";
import { type EventStore, MemoryEventStore } from "./event_store.ts";
import { encode, type RequestId, type RpcMessage } from "./jsonrpc.ts";
import type { LogLevel } from "./logging.ts";
import { STANDALONE, StreamHub } from "./streams.ts";

/** The two MCP HTTP transports. */
export type TransportKind = "sse" | "streamable";

/** Who the client said it was in `initialize`. */
export interface ClientInfo {
  /** Client name. */
  name: string;
  /** Client version. */
  version: string;
}

/** How many messages may wait in an SSE session's inbox or outbox before a send waits. */
const QUEUE_CAPACITY = 64;

/** Streams and resumption of Streamable HTTP sessions. */
export interface StreamOptions {
  /** Where stream events are kept (default: a {@linkcode MemoryEventStore} of its own). */
  eventStore?: EventStore;
  /** Reconnection delay suggested to clients, ms (default 1000). */
  retry?: number;
}

/** One client's session. */
export class Session {
  /** Unguessable id (a random UUID). */
  readonly id: string = crypto.randomUUID();
  /** The transport the session was opened on. */
  readonly transport: TransportKind;
  /** Creation time, epoch ms. */
  readonly created: number;
  /** Last activity, epoch ms. */
  lastSeen: number;
  /** Version agreed in `initialize`. */
  protocolVersion: string | undefined;
  /** Client identity from `initialize`. */
  client: ClientInfo | undefined;
  /** What the client offers (`sampling`, `elicitation`, `roots`, …). */
  clientCapabilities: Record<string, unknown> = {};
  /** True once the client sent `notifications/initialized`. */
  initialized = false;
  /** Least severe log level sent (`logging/setLevel`); everything when unset. */
  logLevel: LogLevel | undefined;
  /** Resource URIs the client subscribed to. */
  readonly subscriptions: Set<string> = new Set();
  /** SSE transport only: parsed message bodies POSTed by the client. */
  readonly inbox: Channel<unknown> | undefined;
  /** SSE transport only: serialized messages for the event stream. */
  readonly outbox: Channel<string> | undefined;
  /** Streamable HTTP only: the session's event streams. */
  readonly hub: StreamHub | undefined;
  /** Requests being served, by id, so `notifications/cancelled` can stop them. */
  readonly inflight: Map<RequestId, { cancel(reason?: unknown): void }> = new Map();
  /** Requests the server sent the client. */
  readonly requests: ClientRequests = new ClientRequests();
  readonly #store: EventStore | undefined;
  #closed = false;

  /**
   * @param transport the transport the client connected with
   * @param opts streams and resumption (Streamable HTTP)
   * @param now creation time
   */
  constructor(transport: TransportKind, opts: StreamOptions = {}, now: number = Date.now()) {
    this.transport = transport;
    this.created = now;
    this.lastSeen = now;
    if (transport === "sse") {
      this.inbox = new Channel<unknown>(QUEUE_CAPACITY);
      this.outbox = new Channel<string>(QUEUE_CAPACITY);
    } else {
      this.#store = opts.eventStore ?? new MemoryEventStore();
      const retry = opts.retry ?? 1000;
      this.hub = new StreamHub(this.id, this.#store, {
        retry,
        priming: () => this.speaks("2025-11-25"),
      });
    }
  }

  /** True after {@linkcode Session.close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True when the negotiated version is `version` or later. */
  speaks(version: string): boolean {
    return (this.protocolVersion ?? "") >= version;
  }

  /** What the negotiated revision defines. */
  get features(): ReturnType<typeof features> {
    return features(this.protocolVersion);
  }

  /** Records activity. */
  touch(now: number = Date.now()): void {
    this.lastSeen = now;
  }

  /**
   * Sends a message to the client: on the SSE transport's stream, or on
   * Streamable HTTP stream `streamId` (the standalone stream by default).
   * A closed session drops it.
   */
  async send(message: RpcMessage, streamId: string = STANDALONE): Promise<void> {
    if (this.#closed) return;
    if (this.hub) return await this.hub.send(streamId, encode(message));
    try {
      await this.outbox!.send(encode(message));
    } catch (err) {
      if (!this.#closed) throw err;
    }
  }

  /** Ends the session: its streams end, its running requests are cancelled without a reply. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.inbox?.close();
    this.outbox?.close();
    this.hub?.close();
    this.requests.close();
    for (const task of this.inflight.values()) task.cancel();
    this.inflight.clear();
    if (this.#store) Promise.resolve(this.#store.drop(this.id)).catch(() => {});
  }
}

/** Options of {@linkcode SessionStore}. */
export interface SessionStoreOptions extends StreamOptions {
  /** Idle time after which a session expires, ms (default 10 minutes). */
  ttl?: number;
  /** Most sessions at once (default 10 000); more are refused. */
  maxSessions?: number;
}

/** The live sessions of a server. */
export class SessionStore implements Iterable<Session> {
  /** Idle time to live, ms. */
  readonly ttl: number;
  /** Most sessions at once. */
  readonly maxSessions: number;
  readonly #streams: StreamOptions;
  readonly #sessions = new Map<string, Session>();

  /** @param opts time to live, capacity, streams */
  constructor(opts: SessionStoreOptions = {}) {
    this.ttl = opts.ttl ?? 10 * 60_000;
    this.maxSessions = opts.maxSessions ?? 10_000;
    this.#streams = {
      eventStore: opts.eventStore ?? new MemoryEventStore(),
      retry: opts.retry,
    };
  }

  /** Number of live sessions. */
  get size(): number {
    return this.#sessions.size;
  }

  /** The live sessions. */
  [Symbol.iterator](): Iterator<Session> {
    return this.#sessions.values();
  }

  /** Opens a session, or returns `undefined` when the store is full. */
  create(transport: TransportKind): Session | undefined {
    if (this.#sessions.size >= this.maxSessions) return undefined;
    const session = new Session(transport, this.#streams);
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id (its activity recorded), or `undefined`. */
  get(id: string | null | undefined): Session | undefined {
    if (!id) return undefined;
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    const now = Date.now();
    if (now - session.lastSeen > this.ttl) {
      this.delete(id);
      return undefined;
    }
    session.touch(now);
    return session;
  }

  /** Closes and forgets a session; false when there was none. */
  delete(id: string): boolean {
    const session = this.#sessions.get(id);
    if (!session) return false;
    this.#sessions.delete(id);
    session.close();
    return true;
  }

  /** Expires the sessions idle longer than the time to live; returns how many. */
  sweep(now: number = Date.now()): number {
    let expired = 0;
    for (const [id, session] of this.#sessions) {
      if (session.hub?.standaloneHeld) session.touch(now); // an open stream keeps it alive
      else if (now - session.lastSeen > this.ttl) {
        this.delete(id);
        expired++;
      }
    }
    return expired;
  }

  /**
   * Sweeps every `interval` ms (default: a tenth of the time to live, at
   * least 1 s) until the calling task is cancelled. Run it in its own task.
   */
  async runSweeper(interval: number = Math.max(1000, this.ttl / 10)): Promise<never> {
    for (;;) {
      await sleep(interval);
      this.sweep();
    }
  }

  /** Closes every session. */
  close(): void {
    for (const id of [...this.#sessions.keys()]) this.delete(id);
  }
}

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
 * With a {@linkcode SessionSharing} (`redis_sessions.ts`, `MCP_REDIS_URL`)
 * Streamable HTTP sessions are shared by every instance on it: a session
 * is a record there, and each instance a request of it lands on keeps a
 * replica, loaded on first sight ({@linkcode SessionStore.find}), kept in
 * step by the session's topic and saved after each request that changed it
 * ({@linkcode SessionStore.save}). An instance forgets an idle replica; the
 * session ends when its record expires or on `DELETE`. Sessions of the old
 * SSE transport stay on the instance holding their stream.
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
import { STANDALONE, StreamHub, type StreamRelay } from "./streams.ts";

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

/** What is kept of a shared session between requests. */
export interface SessionRecord {
  /** Creation time, epoch ms. */
  created: number;
  /** Version agreed in `initialize`. */
  protocolVersion?: string;
  /** Client identity from `initialize`. */
  client?: ClientInfo;
  /** What the client offers. */
  clientCapabilities: Record<string, unknown>;
  /** True once the client sent `notifications/initialized`. */
  initialized: boolean;
  /** Least severe log level sent. */
  logLevel?: LogLevel;
  /** Resource URIs the client subscribed to. */
  subscriptions: string[];
}

/** Where shared sessions live (implemented by `SharedState` of `redis_sessions.ts`). */
export interface SessionSharing {
  /** This instance's id. */
  readonly instance: string;
  /** Where stream events are kept, for every instance. */
  readonly events: EventStore;
  /** The relay of session `id`'s streams. */
  relay(id: string): StreamRelay;
  /** The requests of session `id`, with replies routed to the instance that waits for them. */
  requests(id: string): ClientRequests & { flush(): Promise<void> };
  /** The record of session `id`, or `undefined` when it is gone. */
  load(id: string): Promise<SessionRecord | undefined>;
  /** Stores a record (its expiry restarts); `announce` tells the other replicas. */
  save(id: string, rec: SessionRecord, announce: boolean): Promise<void>;
  /** Restarts the expiry of session `id`; false when it is gone. */
  renew(id: string): Promise<boolean>;
  /** Ends session `id` everywhere; false when it was gone. */
  end(id: string): Promise<boolean>;
  /** Forwards the `notifications/cancelled` in `body` for calls running elsewhere. */
  forwardCancels(session: Session, body: unknown): Promise<void>;
  /** Keeps `session` in step with its topic until the returned function is called. */
  follow(session: Session, ended: () => void): Promise<() => Promise<void>>;
}

/** How a session is made (beyond its streams). */
export interface SessionInit extends StreamOptions {
  /** The id of a shared session's replica (default: a new random UUID). */
  id?: string;
  /** The relay of a shared session's streams. */
  relay?: StreamRelay;
  /** The requests of a shared session, replies routed between instances. */
  requests?: ClientRequests;
}

/** One client's session. */
export class Session {
  /** Unguessable id (a random UUID). */
  readonly id: string;
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
  readonly requests: ClientRequests;
  /** The record as last saved or received (shared sessions). */
  saved: string | undefined;
  readonly #store: EventStore | undefined;
  #closed = false;

  /**
   * @param transport the transport the client connected with
   * @param opts streams and resumption (Streamable HTTP), the parts of a shared session
   * @param now creation time
   */
  constructor(transport: TransportKind, opts: SessionInit = {}, now: number = Date.now()) {
    this.id = opts.id ?? crypto.randomUUID();
    this.requests = opts.requests ?? new ClientRequests();
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
        relay: opts.relay,
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

  /** What is kept of the session between requests. */
  record(): SessionRecord {
    return {
      created: this.created,
      protocolVersion: this.protocolVersion,
      client: this.client,
      clientCapabilities: this.clientCapabilities,
      initialized: this.initialized,
      logLevel: this.logLevel,
      subscriptions: [...this.subscriptions],
    };
  }

  /** Takes the fields of a record saved elsewhere. */
  update(rec: SessionRecord): void {
    this.protocolVersion = rec.protocolVersion;
    this.client = rec.client;
    this.clientCapabilities = rec.clientCapabilities ?? {};
    this.initialized = rec.initialized === true;
    this.logLevel = rec.logLevel;
    this.subscriptions.clear();
    for (const uri of rec.subscriptions ?? []) this.subscriptions.add(uri);
    this.saved = JSON.stringify(this.record());
  }

  /** True while something of the session runs here: a call, a request to the client, a held stream. */
  get busy(): boolean {
    return this.inflight.size > 0 || this.requests.size > 0 || !!this.hub?.standaloneHeld;
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

  /**
   * Ends the session here: its streams end, its running requests are
   * cancelled without a reply; its stored events are dropped unless
   * `keepEvents` (a shared session's replica let go).
   */
  close(keepEvents = false): void {
    if (this.#closed) return;
    this.#closed = true;
    this.inbox?.close();
    this.outbox?.close();
    this.hub?.close();
    this.requests.close();
    for (const task of this.inflight.values()) task.cancel();
    this.inflight.clear();
    if (this.#store && !keepEvents) Promise.resolve(this.#store.drop(this.id)).catch(() => {});
  }
}

/** Options of {@linkcode SessionStore}. */
export interface SessionStoreOptions extends StreamOptions {
  /** Idle time after which a session expires, ms (default 10 minutes). */
  ttl?: number;
  /** Most sessions at once (default 10 000); more are refused. */
  maxSessions?: number;
  /** Shares Streamable HTTP sessions with other instances (its events replace `eventStore`). */
  shared?: SessionSharing;
}

interface Replica {
  /** Stops following the session's topic. */
  unfollow: () => Promise<void>;
}

/** The live sessions of a server (on this instance). */
export class SessionStore implements Iterable<Session> {
  /** Idle time to live, ms. */
  readonly ttl: number;
  /** Most sessions at once. */
  readonly maxSessions: number;
  /** This instance's id (`local` without shared state). */
  readonly instance: string;
  readonly #streams: StreamOptions;
  readonly #shared: SessionSharing | undefined;
  readonly #sessions = new Map<string, Session>();
  readonly #replicas = new Map<Session, Replica>();
  readonly #loading = new Map<string, Promise<Session | undefined>>();

  /** @param opts time to live, capacity, streams, shared state */
  constructor(opts: SessionStoreOptions = {}) {
    this.ttl = opts.ttl ?? 10 * 60_000;
    this.maxSessions = opts.maxSessions ?? 10_000;
    this.#shared = opts.shared;
    this.instance = opts.shared?.instance ?? "local";
    this.#streams = {
      eventStore: opts.shared?.events ?? opts.eventStore ?? new MemoryEventStore(),
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
    const id = crypto.randomUUID();
    const session = new Session(transport, this.#init(transport, id));
    this.#sessions.set(session.id, session);
    return session;
  }

  #init(transport: TransportKind, id: string): SessionInit {
    const shared = transport === "streamable" ? this.#shared : undefined;
    if (!shared) return { ...this.#streams, id };
    return { ...this.#streams, id, relay: shared.relay(id), requests: shared.requests(id) };
  }

  /** The live session with this id on this instance (its activity recorded), or `undefined`. */
  get(id: string | null | undefined): Session | undefined {
    if (!id) return undefined;
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    const now = Date.now();
    if (now - session.lastSeen > this.ttl && !this.#replicas.has(session)) {
      this.delete(id);
      return undefined;
    }
    session.touch(now);
    return session;
  }

  /**
   * The live session with this id, from shared state when this instance
   * has no replica of it yet, or `undefined`.
   * @throws {RedisError} when shared state is out of reach.
   */
  async find(id: string | null | undefined): Promise<Session | undefined> {
    const shared = this.#shared;
    const session = this.get(id);
    if (!shared || !id) return session;
    const replica = session && this.#replicas.get(session);
    if (session && replica) {
      // Every request asks Redis (one EXPIRE, which also restarts the
      // expiry): a session ended on another instance answers 404 at once,
      // even before that instance's end notice arrives here.
      if (await shared.renew(id)) return session;
      this.#letGo(session, false); // ended, expired, or lost with a Redis restart
      return undefined;
    }
    if (session) return session; // an SSE session, or a new one not saved yet
    let loading = this.#loading.get(id);
    if (!loading) {
      loading = this.#load(shared, id).finally(() => this.#loading.delete(id));
      this.#loading.set(id, loading);
    }
    return await loading;
  }

  async #load(shared: SessionSharing, id: string): Promise<Session | undefined> {
    const rec = await shared.load(id);
    if (!rec || this.#sessions.size >= this.maxSessions) return undefined;
    const session = new Session("streamable", this.#init("streamable", id), rec.created);
    session.update(rec);
    await this.#follow(shared, session);
    this.#sessions.set(id, session);
    return session;
  }

  async #follow(shared: SessionSharing, session: Session): Promise<void> {
    const unfollow = await shared.follow(session, () => this.#letGo(session, true));
    this.#replicas.set(session, { unfollow });
  }

  /**
   * After a request of a shared session: stores its record when the request
   * changed it (the first time, it starts following its topic) and forwards
   * what belongs to other instances (replies, cancellations in `body`).
   * Nothing without shared state.
   * @throws {RedisError} when shared state is out of reach.
   */
  async save(session: Session, body?: unknown): Promise<void> {
    const shared = this.#shared;
    if (!shared || session.transport !== "streamable" || session.closed) return;
    const record = session.record();
    const now = JSON.stringify(record);
    const fresh = !this.#replicas.has(session);
    if (now !== session.saved) {
      await shared.save(session.id, record, !fresh);
      session.saved = now;
    }
    if (fresh) await this.#follow(shared, session);
    await (session.requests as ClientRequests & { flush(): Promise<void> }).flush();
    if (body !== undefined) await shared.forwardCancels(session, body);
  }

  /** Closes and forgets a session here; false when there was none. */
  delete(id: string): boolean {
    const session = this.#sessions.get(id);
    if (!session) return false;
    this.#letGo(session, false);
    return true;
  }

  /**
   * Ends a session (`DELETE`): here and, when shared, everywhere; false
   * when there was none.
   * @throws {RedisError} when shared state is out of reach.
   */
  async end(id: string): Promise<boolean> {
    const here = this.delete(id);
    if (!this.#shared) return here;
    return await this.#shared.end(id) || here;
  }

  /** Closes a session here; a shared one keeps its events (another instance may serve it). */
  #letGo(session: Session, keepEvents: boolean): void {
    if (this.#sessions.get(session.id) === session) this.#sessions.delete(session.id);
    const replica = this.#replicas.get(session);
    this.#replicas.delete(session);
    session.close(keepEvents || replica !== undefined);
    replica?.unfollow().catch(() => {});
  }

  /**
   * Expires the sessions idle longer than the time to live; returns how
   * many. A shared session's replica is let go instead (its record expires
   * by itself), unless something of it still runs here.
   */
  sweep(now: number = Date.now()): number {
    let expired = 0;
    for (const session of [...this.#sessions.values()]) {
      if (session.hub?.standaloneHeld) {
        session.touch(now); // an open stream keeps it alive
        const replica = this.#replicas.get(session);
        if (replica) this.#shared!.renew(session.id).catch(() => {});
      } else if (
        now - session.lastSeen > this.ttl && !(session.busy && this.#replicas.has(session))
      ) {
        this.#letGo(session, false);
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

  /** Closes every session here (shared sessions stay for the other instances). */
  close(): void {
    for (const session of [...this.#sessions.values()]) this.#letGo(session, false);
  }
}

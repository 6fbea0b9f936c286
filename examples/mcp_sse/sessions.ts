/**
 * MCP sessions: one per connected client, identified by an unguessable id.
 * A session of the SSE transport carries an inbox (messages POSTed to
 * `/message`) and an outbox (replies for its event stream), both served by
 * the task of its open stream; a session of the Streamable HTTP transport
 * lives on its requests alone. Sessions that stay idle longer than the time to live
 * expire; the store's sweeper removes them.
 *
 * @example
 * ```ts ignore
 * import { SessionStore } from "./sessions.ts";
 * const store = new SessionStore({ ttl: 60_000 });
 * const session = store.create("streamable");
 * console.log(store.get(session.id) === session); // true
 * store.close();
 * ```
 * @module
 */
import { Channel, sleep } from "../../mod.ts";

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
  /** True once the client sent `notifications/initialized`. */
  initialized = false;
  /** SSE transport only: parsed message bodies POSTed by the client. */
  readonly inbox: Channel<unknown> | undefined;
  /** SSE transport only: serialized messages for the event stream. */
  readonly outbox: Channel<string> | undefined;
  /** Requests being served, by id, so `notifications/cancelled` can stop them. */
  readonly inflight: Map<string | number, { cancel(): void }> = new Map();
  #closed = false;

  /**
   * @param transport the transport the client connected with
   * @param now creation time
   */
  constructor(transport: TransportKind, now: number = Date.now()) {
    this.transport = transport;
    this.created = now;
    this.lastSeen = now;
    if (transport === "sse") {
      this.inbox = new Channel<unknown>(QUEUE_CAPACITY);
      this.outbox = new Channel<string>(QUEUE_CAPACITY);
    }
  }

  /** True after {@linkcode Session.close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Records activity. */
  touch(now: number = Date.now()): void {
    this.lastSeen = now;
  }

  /** Ends the session: its stream ends and its running requests are cancelled. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.inbox?.close();
    this.outbox?.close();
    for (const task of this.inflight.values()) task.cancel();
    this.inflight.clear();
  }
}

/** Options of {@linkcode SessionStore}. */
export interface SessionStoreOptions {
  /** Idle time after which a session expires, ms (default 10 minutes). */
  ttl?: number;
  /** Most sessions at once (default 10 000); more are refused. */
  maxSessions?: number;
}

/** The live sessions of a server. */
export class SessionStore {
  /** Idle time to live, ms. */
  readonly ttl: number;
  /** Most sessions at once. */
  readonly maxSessions: number;
  readonly #sessions = new Map<string, Session>();

  /** @param opts time to live and capacity */
  constructor(opts: SessionStoreOptions = {}) {
    this.ttl = opts.ttl ?? 10 * 60_000;
    this.maxSessions = opts.maxSessions ?? 10_000;
  }

  /** Number of live sessions. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Opens a session, or returns `undefined` when the store is full. */
  create(transport: TransportKind): Session | undefined {
    if (this.#sessions.size >= this.maxSessions) return undefined;
    const session = new Session(transport);
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
      if (now - session.lastSeen > this.ttl) {
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

/**
 * Shared state of Streamable HTTP sessions on Redis, so the requests of one
 * session may land on any instance behind a balancer (`MCP_REDIS_URL`):
 *
 * - the session record (negotiated version, client and capabilities, log
 *   level, subscriptions) under `<prefix>session:<id>`, expiring after the
 *   time to live unless a request or an open stream renews it;
 * - the event log of its streams for `Last-Event-ID` (`redis_event_store.ts`);
 * - one pub/sub topic per session, `<prefix>s:<id>`, which every instance
 *   holding a replica of the session listens on: "events stored on stream
 *   s" (the instance holding s reads them from the log), "a connection took
 *   stream s over", a client's reply to a request another instance sent, a
 *   `notifications/cancelled` for a call running elsewhere, a changed
 *   record, the session's end.
 *
 * @example
 * ```ts ignore
 * import { SharedState } from "./redis_sessions.ts";
 * const shared = await SharedState.open("redis://127.0.0.1:6379", { ttl: 600_000 });
 * console.log(shared.instance); // e.g. "3fa85f64"
 * await shared.close();
 * ```
 * @module
 */
import { Cancelled, spawn } from "../../mod.ts";
import * as redis from "../../drivers/redis.ts";
import { type Bus, redisBus } from "../../src/bus.ts";
import { ClientRequests } from "./client_requests.ts";
import { isObject, type RequestId, type RpcResponse } from "./jsonrpc.ts";
import { BusEventStore } from "./redis_event_store.ts";
import type { Session, SessionRecord, SessionSharing } from "./sessions.ts";
import type { StreamRelay } from "./streams.ts";

/** A message on a session's topic. */
type Routed =
  | { t: "ev"; s: string }
  | { t: "take"; s: string; at: string }
  | { t: "reply"; r: RpcResponse }
  | { t: "cancel"; id: RequestId; reason: string }
  | { t: "state"; rec: SessionRecord }
  | { t: "end" };

/**
 * The requests a session's instance sent its client; a reply that lands on
 * an instance that did not send the request goes to the session's topic.
 */
export class RoutedRequests extends ClientRequests {
  readonly #forward: (response: RpcResponse) => Promise<void>;
  #forwarding: Promise<void>[] = [];

  /** @param forward sends a reply this instance did not wait for to the others */
  constructor(forward: (response: RpcResponse) => Promise<void>) {
    super();
    this.#forward = forward;
  }

  /** Settles a request of this instance, or forwards the reply. */
  override settle(response: RpcResponse): boolean {
    if (super.settle(response)) return true;
    if (response.id !== null) this.#forwarding.push(this.#forward(response));
    return true;
  }

  /** Settles a request of this instance only (a reply forwarded by another). */
  settleHere(response: RpcResponse): boolean {
    return super.settle(response);
  }

  /** Waits until the forwarded replies are out; throws when one could not be sent. */
  async flush(): Promise<void> {
    const sent = this.#forwarding;
    this.#forwarding = [];
    await Promise.all(sent);
  }
}

/** Options of {@linkcode SharedState.open}. */
export interface SharedStateOptions {
  /** Session time to live, ms (default 10 minutes). */
  ttl?: number;
  /** Prefix of every key and channel (default `"lunet:mcp:"`). */
  prefix?: string;
  /** About how many events each session's log keeps (default 1000). */
  maxEvents?: number;
}

/** The Redis side of shared sessions, one per instance. */
export class SharedState implements SessionSharing {
  /** This instance's id (reported in `Mcp-Instance`, starting its stream ids). */
  readonly instance: string = crypto.randomUUID().slice(0, 8);
  /** The sessions' stream events. */
  readonly events: BusEventStore;
  /** Session time to live, ms. */
  readonly ttl: number;
  readonly #redis: redis.Redis;
  readonly #bus: Bus;
  readonly #prefix: string;
  readonly #follows = new Set<() => Promise<void>>();

  /** @ignore */
  private constructor(db: redis.Redis, opts: SharedStateOptions) {
    this.#redis = db;
    this.#prefix = opts.prefix ?? "lunet:mcp:";
    this.ttl = opts.ttl ?? 10 * 60_000;
    this.#bus = redisBus(db, { prefix: this.#prefix, maxLen: opts.maxEvents ?? 1000 });
    this.events = new BusEventStore(this.#bus, db, { prefix: this.#prefix, ttl: this.ttl });
  }

  /** Connects to Redis at `url`. */
  static async open(url: string, opts: SharedStateOptions = {}): Promise<SharedState> {
    return new SharedState(await redis.open(url, { timeout: 10_000 }), opts);
  }

  /** The record of session `id`, or `undefined` when it expired, ended or never was. */
  async load(id: string): Promise<SessionRecord | undefined> {
    const raw = await this.#redis.get(this.#key(id));
    if (raw === null) return undefined;
    try {
      const rec = JSON.parse(raw);
      return isObject(rec) ? rec as unknown as SessionRecord : undefined;
    } catch {
      return undefined;
    }
  }

  /** Stores the record of session `id` (its expiry restarts) and tells the other replicas. */
  async save(id: string, rec: SessionRecord, announce: boolean): Promise<void> {
    await this.#redis.set(this.#key(id), JSON.stringify(rec), { px: this.ttl });
    if (announce) await this.tell(id, { t: "state", rec });
  }

  /** Restarts the expiry of session `id`; false when it is gone. */
  renew(id: string): Promise<boolean> {
    return this.#redis.expire(this.#key(id), this.ttl);
  }

  /** Ends session `id` everywhere: its record and log are deleted; false when it was gone. */
  async end(id: string): Promise<boolean> {
    const n = await this.#redis.del([this.#key(id), `${this.#prefix}log:${id}`]);
    await this.tell(id, { t: "end" });
    return n > 0;
  }

  /** Publishes `message` on session `id`'s topic. */
  tell(id: string, message: Routed): Promise<void> {
    return this.#bus.publish(`s:${id}`, JSON.stringify({ ...message, from: this.instance }));
  }

  /** The relay of session `id`'s streams. */
  relay(id: string): StreamRelay {
    return {
      instance: this.instance,
      read: (s, after) => this.events.read(id, s, after),
      complete: (s) => this.events.complete(id, s),
      stored: (s) => this.tell(id, { t: "ev", s }),
      taken: (s, at) => this.tell(id, { t: "take", s, at }),
    };
  }

  /** The requests of session `id`, with replies routed between instances. */
  requests(id: string): RoutedRequests {
    return new RoutedRequests((r) => this.tell(id, { t: "reply", r }));
  }

  /** Forwards the `notifications/cancelled` in `body` for calls not running here. */
  async forwardCancels(session: Session, body: unknown): Promise<void> {
    for (const m of Array.isArray(body) ? body : [body]) {
      if (!isObject(m) || m.method !== "notifications/cancelled" || !isObject(m.params)) continue;
      const id = m.params.requestId;
      if ((typeof id !== "string" && typeof id !== "number") || session.inflight.has(id)) continue;
      const reason = `request ${id} cancelled by the client`;
      await this.tell(session.id, { t: "cancel", id, reason });
    }
  }

  /**
   * Listens on session `session`'s topic until the returned function is
   * called; `ended` is called when the session ended on another instance.
   */
  async follow(session: Session, ended: () => void): Promise<() => Promise<void>> {
    const sub = await this.#bus.subscribe(`s:${session.id}`);
    const task = spawn(async () => {
      for await (const msg of sub) {
        let m: Routed & { from?: string };
        try {
          m = JSON.parse(msg.data);
        } catch {
          continue;
        }
        if (m.t === "ev") session.hub?.wake(m.s);
        else if (m.t === "end") ended();
        else if (m.from === this.instance) continue;
        else if (m.t === "take") session.hub?.taken(m.s, m.at);
        else if (m.t === "reply") (session.requests as RoutedRequests).settleHere(m.r);
        else if (m.t === "cancel") session.inflight.get(m.id)?.cancel(new Cancelled(m.reason));
        else if (m.t === "state") session.update(m.rec);
      }
    }, { name: `mcp session ${session.id} topic` });
    const stop = async () => {
      this.#follows.delete(stop);
      await sub.close();
      await task.then(undefined, () => {});
    };
    this.#follows.add(stop);
    return stop;
  }

  /** Stops listening and closes the connection; the shared sessions stay for the other instances. */
  async close(): Promise<void> {
    await Promise.all([...this.#follows].map((stop) => stop()));
    await this.#bus.close();
    await this.#redis.close();
  }

  #key(id: string): string {
    return `${this.#prefix}session:${id}`;
  }
}

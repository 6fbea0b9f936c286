/**
 * The topic table of a process: which connections of this worker are
 * subscribed to which topic, and a `BroadcastChannel` that carries each
 * publication to the other workers of the process (Deno workers share
 * BroadcastChannels). The channel is open only while this worker has a
 * subscription, so an idle hub keeps nothing alive. With a bus
 * ({@linkcode topicsOnBus}) publications travel on it instead, to every
 * process on it: the hub subscribes to a topic's bus topic while a
 * connection here is subscribed to it.
 *
 * @module
 */
import type { Bus, BusSubscription } from "../bus/_types.ts";

/**
 * Hands one publication to one subscriber. `shared` caches the encoded
 * frame, so a publication to many connections is framed once.
 */
export type Deliver = (data: string | Uint8Array, shared: SharedFrame) => void;

/** The frames of one publication, encoded once for every subscriber that can share them. */
export interface SharedFrame {
  /** Unmasked, uncompressed frame. */
  plain?: Uint8Array;
  /** The payload as bytes. */
  bytes?: Uint8Array;
}

const CHANNEL = "lunet/ws/topics";

interface Posted {
  topic: string;
  data: string | Uint8Array;
}

/**
 * Options of {@linkcode topicsOnBus}.
 *
 * @example
 * ```ts
 * import type { TopicBusOptions } from "@lunet/lunet/ws";
 * const opts: TopicBusOptions = { prefix: "chat:" };
 * if (opts.prefix !== "chat:") throw new Error("prefix");
 * ```
 */
export interface TopicBusOptions {
  /** Prefix of the bus topics (default `"ws:"`): topic `t` travels on bus topic `ws:t`. */
  prefix?: string;
}

/** A publication on the bus: its origin hub, its data (base64 when binary). */
interface Carried {
  o: string;
  d: string;
  b?: 1;
}

/** The bus a hub publishes on, and its subscriptions by topic. */
interface BusLink {
  bus: Bus;
  prefix: string;
  origin: string;
  subs: Map<string, Promise<BusSubscription | undefined>>;
}

/** The subscriptions of one worker. */
export class TopicHub {
  #topics = new Map<string, Map<object, Deliver>>();
  #count = 0;
  #channel: BroadcastChannel | undefined;
  #link: BusLink | undefined;

  /** Carries publications on `bus` from now on (see {@linkcode topicsOnBus}). */
  useBus(bus: Bus, opts: TopicBusOptions = {}): () => Promise<void> {
    if (this.#link) throw new Error("ws topics: a bus is in use already");
    const link: BusLink = {
      bus,
      prefix: opts.prefix ?? "ws:",
      origin: crypto.randomUUID(),
      subs: new Map(),
    };
    this.#link = link;
    for (const topic of this.#topics.keys()) this.#follow(link, topic);
    return async () => {
      if (this.#link === link) this.#link = undefined;
      const subs = await Promise.all(link.subs.values());
      link.subs.clear();
      await Promise.all(subs.map((sub) => sub?.close()));
    };
  }

  /** Subscribes the hub to `topic` on the bus and delivers what other hubs publish there. */
  #follow(link: BusLink, topic: string): void {
    const subscribed = link.bus.subscribe(link.prefix + topic).then(
      (sub) => {
        this.#relay(link, topic, sub);
        return sub;
      },
      (err) => {
        link.subs.delete(topic);
        console.error(`ws topics: subscribe ${topic} on the bus: ${err?.message ?? err}`);
        return undefined;
      },
    );
    link.subs.set(topic, subscribed);
  }

  async #relay(link: BusLink, topic: string, sub: BusSubscription): Promise<void> {
    for await (const msg of sub) {
      let carried: Carried;
      try {
        carried = JSON.parse(msg.data);
      } catch {
        continue; // not published by a hub
      }
      if (carried.o === link.origin || typeof carried.d !== "string") continue;
      this.deliver(topic, carried.b ? Uint8Array.fromBase64(carried.d) : carried.d);
    }
  }

  #unfollow(link: BusLink, topic: string): void {
    const subscribed = link.subs.get(topic);
    link.subs.delete(topic);
    subscribed?.then((sub) => sub?.close());
  }

  /** Subscribes `owner` to `topic`; false when it already was. */
  add(topic: string, owner: object, deliver: Deliver): boolean {
    let subs = this.#topics.get(topic);
    if (!subs) {
      this.#topics.set(topic, subs = new Map());
      if (this.#link) this.#follow(this.#link, topic);
    }
    if (subs.has(owner)) return false;
    subs.set(owner, deliver);
    if (this.#count++ === 0) this.#open();
    return true;
  }

  /** Unsubscribes `owner` from `topic`; false when it was not subscribed. */
  remove(topic: string, owner: object): boolean {
    const subs = this.#topics.get(topic);
    if (!subs?.delete(owner)) return false;
    if (subs.size === 0) {
      this.#topics.delete(topic);
      if (this.#link) this.#unfollow(this.#link, topic);
    }
    if (--this.#count === 0) this.#close();
    return true;
  }

  /** Delivers to this worker's subscribers and posts to the other workers (or the bus). */
  publish(topic: string, data: string | Uint8Array): number {
    const n = this.deliver(topic, data);
    const link = this.#link;
    if (link) {
      const carried: Carried = typeof data === "string"
        ? { o: link.origin, d: data }
        : { o: link.origin, d: data.toBase64(), b: 1 };
      link.bus.publish(link.prefix + topic, JSON.stringify(carried)).catch((err) => {
        console.error(`ws topics: publish ${topic} on the bus: ${err?.message ?? err}`);
      });
      return n;
    }
    const message: Posted = { topic, data };
    if (this.#channel) this.#channel.postMessage(message);
    else {
      // No local subscription, so no listener here: a channel for this post only.
      const ch = new BroadcastChannel(CHANNEL);
      ch.postMessage(message);
      ch.close();
    }
    return n;
  }

  /** Delivers to this worker's subscribers only; returns how many. */
  deliver(topic: string, data: string | Uint8Array): number {
    const subs = this.#topics.get(topic);
    if (!subs) return 0;
    const shared: SharedFrame = {};
    let n = 0;
    // A subscriber dropped during delivery leaves the map: iterate a copy.
    for (const deliver of [...subs.values()]) {
      deliver(data, shared);
      n++;
    }
    return n;
  }

  #open(): void {
    const ch = this.#channel = new BroadcastChannel(CHANNEL);
    ch.onmessage = (ev: MessageEvent<Posted>) => {
      const { topic, data } = ev.data ?? {};
      if (typeof topic === "string" && (typeof data === "string" || data instanceof Uint8Array)) {
        this.deliver(topic, data);
      }
    };
  }

  #close(): void {
    this.#channel?.close();
    this.#channel = undefined;
  }
}

/** The hub of this worker. */
export const hub: TopicHub = new TopicHub();

/**
 * Carries the topics of this worker on `bus` (a `redisBus`, say): from
 * now on `publish` reaches the subscribers of every process and machine
 * on it, not only this process's workers. Call it in every worker that
 * serves WebSockets; the returned function goes back to the process's
 * `BroadcastChannel`. A publication reaches a hub once its subscription
 * to that topic on the bus is in place (what is published before is not
 * kept, as with Redis pub/sub).
 *
 * @example
 * ```ts ignore
 * import * as redis from "@lunet/lunet/redis";
 * import { redisBus } from "@lunet/lunet/bus";
 * import { publish, topicsOnBus } from "@lunet/lunet/ws";
 * const db = await redis.open("redis://127.0.0.1:6379");
 * const stop = topicsOnBus(redisBus(db));
 * publish("news", "to every instance");
 * await stop();
 * await db.close();
 * ```
 */
export function topicsOnBus(bus: Bus, opts?: TopicBusOptions): () => Promise<void> {
  return hub.useBus(bus, opts);
}

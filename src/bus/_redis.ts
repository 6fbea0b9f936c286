/**
 * The Redis bus: pub/sub for fan-out, one Stream per log (bounded with
 * `MAXLEN ~`) for replay. Only the type of the driver is imported here:
 * the caller opens the connection with `@lunet/lunet/redis`.
 *
 * @module
 */
import { badName, badText } from "./_checks.ts";
import type { Redis, Subscription } from "../../drivers/redis.ts";
import { ClosedError } from "../errors.ts";
import type { WaitOptions } from "../_wait.ts";
import type { Bus, BusEntry, BusMessage, BusSubscription, ReadOptions } from "./_types.ts";

/**
 * Options of {@linkcode redisBus}.
 *
 * @example
 * ```ts
 * import type { RedisBusOptions } from "@lunet/lunet/bus";
 * const opts: RedisBusOptions = { prefix: "app:", maxLen: 1000 };
 * if (opts.prefix !== "app:") throw new Error("prefix");
 * ```
 */
export interface RedisBusOptions {
  /** Prefix of every channel and stream key; default `"lunet:bus:"`. */
  prefix?: string;
  /** About how many entries each log keeps (`XADD … MAXLEN ~`); default 10 000. */
  maxLen?: number;
}

class RedisBusSubscription implements BusSubscription {
  readonly topic: string;
  #sub: Subscription;
  #bus: RedisBus;

  constructor(bus: RedisBus, topic: string, sub: Subscription) {
    this.#bus = bus;
    this.topic = topic;
    this.#sub = sub;
  }

  get dropped(): number {
    return this.#sub.dropped;
  }

  async next(opts?: WaitOptions): Promise<BusMessage | null> {
    const msg = await this.#sub.next(opts);
    return msg === null ? null : { topic: this.topic, data: msg.message };
  }

  close(): Promise<void> {
    this.#bus.forget(this);
    return this.#sub.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<BusMessage> {
    try {
      for (let msg; (msg = await this.next()) !== null;) yield msg;
    } finally {
      await this.close();
    }
  }
}

class RedisBus implements Bus {
  #redis: Redis;
  #prefix: string;
  #maxLen: number;
  #subs = new Set<RedisBusSubscription>();
  #closed = false;

  constructor(redis: Redis, opts: RedisBusOptions) {
    this.#redis = redis;
    this.#prefix = opts.prefix ?? "lunet:bus:";
    this.#maxLen = opts.maxLen ?? 10_000;
  }

  async publish(topic: string, data: string, opts?: WaitOptions): Promise<void> {
    const bad = badName("publish", "topic", topic) ?? badText("publish", topic, "data", data);
    if (bad) throw bad;
    await this.#redis.publish(this.#prefix + topic, data, opts);
  }

  async subscribe(topic: string, opts?: WaitOptions): Promise<BusSubscription> {
    const bad = badName("subscribe", "topic", topic);
    if (bad) throw bad;
    if (this.#closed) throw new ClosedError(`bus subscribe ${topic}`);
    const sub = new RedisBusSubscription(
      this,
      topic,
      await this.#redis.subscribe(this.#prefix + topic, opts),
    );
    this.#subs.add(sub);
    return sub;
  }

  forget(sub: RedisBusSubscription): void {
    this.#subs.delete(sub);
  }

  append(stream: string, data: string, opts?: WaitOptions): Promise<string> {
    const bad = badName("append", "stream", stream) ?? badText("append", stream, "data", data);
    if (bad) return Promise.reject(bad);
    return this.#redis.xadd(this.#prefix + stream, { d: data }, {
      maxLen: this.#maxLen,
      timeout: opts?.timeout,
      deadline: opts?.deadline,
      signal: opts?.signal,
    });
  }

  async readAfter(stream: string, id: string, opts?: ReadOptions): Promise<BusEntry[]> {
    const bad = badName("readAfter", "stream", stream) ?? badText("readAfter", stream, "id", id);
    if (bad) throw bad;
    const start = id === "" || id === "0" ? "-" : `(${id}`;
    const entries = await this.#redis.xrange(this.#prefix + stream, start, "+", opts);
    return entries.map((e) => ({ id: e.id, data: e.fields.d ?? "" }));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#subs].map((s) => s.close()));
  }
}

/**
 * A bus on Redis, shared by every process and machine that uses the same
 * server and prefix: `publish` is `PUBLISH`, `subscribe` is `SUBSCRIBE`
 * (messages published while the connection is down are lost, as with
 * Redis pub/sub; the subscription itself comes back), `append` is
 * `XADD … MAXLEN ~ maxLen`, `readAfter` is `XRANGE (id +`. Closing the bus
 * ends its subscriptions; the connection stays the caller's to close.
 *
 * @example
 * ```ts
 * import * as redis from "@lunet/lunet/redis";
 * import { redisBus } from "@lunet/lunet/bus";
 * const db = await redis.open("redis://127.0.0.1:6379");
 * const bus = redisBus(db, { prefix: "lunet:doc:bus:" });
 * try {
 *   const sub = await bus.subscribe("news");
 *   await bus.publish("news", "hello");
 *   if ((await sub.next({ timeout: 2000 }))?.data !== "hello") throw new Error("fan-out");
 *   const id = await bus.append("log", "one");
 *   if ((await bus.readAfter("log", "0")).at(-1)?.id !== id) throw new Error("replay");
 *   await db.del("lunet:doc:bus:log");
 * } finally {
 *   await bus.close();
 *   await db.close();
 * }
 * ```
 */
export function redisBus(redis: Redis, opts: RedisBusOptions = {}): Bus {
  return new RedisBus(redis, opts);
}

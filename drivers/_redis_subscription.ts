/**
 * {@linkcode Subscription}: Redis pub/sub messages as a lunet iterable.
 *
 * @module
 */
import { Inbox } from "../src/bus/_inbox.ts";
import type { WaitOptions } from "../src/_wait.ts";
import { traceClose, traceOpen } from "../src/trace.ts";

/**
 * One message of a {@linkcode Subscription}.
 *
 * @example
 * ```ts
 * import type { Message } from "@lunet/lunet/redis";
 * const msg: Message = { channel: "news", message: "hello" };
 * if (msg.pattern !== undefined) throw new Error("a plain subscription has no pattern");
 * ```
 */
export interface Message {
  /** The channel it was published on. */
  channel: string;
  /** What was published. */
  message: string;
  /** The pattern that matched, for a pattern subscription. */
  pattern?: string;
}

/** What a subscription needs of its connection. */
export interface SubscriptionHost {
  /** Removes the subscription's listener from its channels. */
  unsubscribe(sub: Subscription): Promise<void>;
}

/** Creates a subscription (the driver's factory). */
export let makeSubscription: (
  host: SubscriptionHost,
  channels: string[],
  pattern: boolean,
  limit: number,
  label: string,
) => Subscription;

/**
 * The node-redis listener of `sub` for one of its channels (or patterns):
 * it queues each message.
 */
export let listenerOf: (
  sub: Subscription,
  name: string,
) => (message: string, channel: string) => void;

/**
 * A pub/sub subscription: `for await (const msg of sub)` takes its
 * messages in order, each wait task-aware (a cancelled task stops it);
 * {@linkcode Subscription.next} takes one with a timeout. Messages that
 * arrive while the subscriber is behind wait in a queue of `limit`
 * (default 10 000); beyond it, they are dropped and counted in `dropped`.
 * After a reconnect the connection subscribes again by itself; messages
 * published while it was down are lost (Redis pub/sub keeps none).
 *
 * @example
 * ```ts
 * import * as redis from "@lunet/lunet/redis";
 * const db = await redis.open("redis://127.0.0.1:6379");
 * try {
 *   const sub = await db.subscribe("lunet:doc:sub");
 *   await db.publish("lunet:doc:sub", "hi");
 *   const msg = await sub.next({ timeout: 2000 });
 *   if (msg?.message !== "hi") throw new Error("expected hi");
 *   await sub.close();
 * } finally {
 *   await db.close();
 * }
 * ```
 */
export class Subscription implements AsyncIterable<Message> {
  #host: SubscriptionHost;
  #inbox: Inbox<Message>;
  #trace: number;
  #closing: Promise<void> | undefined;
  /** The channels (or patterns) subscribed to. */
  readonly channels: readonly string[];
  /** True for a pattern subscription (PSUBSCRIBE). */
  readonly pattern: boolean;

  static {
    makeSubscription = (host, channels, pattern, limit, label) =>
      new Subscription(host, channels, pattern, limit, label);
    listenerOf = (sub, name) =>
      sub.pattern
        ? (message, channel) => void sub.#inbox.push({ channel, message, pattern: name })
        : (message, channel) => void sub.#inbox.push({ channel, message });
  }

  /** @ignore */
  private constructor(
    host: SubscriptionHost,
    channels: string[],
    pattern: boolean,
    limit: number,
    label: string,
  ) {
    this.#host = host;
    this.channels = channels;
    this.pattern = pattern;
    this.#inbox = new Inbox(`${label}: next message`, limit);
    this.#trace = traceOpen("redis-subscription", `${label} ${channels.join(" ")}`);
  }

  /** Messages dropped because the queue was full. */
  get dropped(): number {
    return this.#inbox.dropped;
  }

  /** True once closed (by {@linkcode Subscription.close} or by closing the connection). */
  get closed(): boolean {
    return this.#inbox.closed;
  }

  /**
   * The next message, or `null` once the subscription is closed.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  next(opts?: WaitOptions): Promise<Message | null> {
    return this.#inbox.next(opts);
  }

  /** Unsubscribes; pending and later takes return `null`. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#inbox.close();
    traceClose("redis-subscription", this.#trace);
    return this.#closing = this.#host.unsubscribe(this).catch(() => {});
  }

  /** Iterates the messages until the subscription closes; leaving the loop closes it. */
  async *[Symbol.asyncIterator](): AsyncIterator<Message> {
    try {
      for (let msg; (msg = await this.#inbox.next()) !== null;) yield msg;
    } finally {
      await this.close();
    }
  }
}

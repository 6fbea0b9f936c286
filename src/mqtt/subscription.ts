/**
 * {@linkcode Subscription}: the messages of one `subscribe` call, as an
 * async iterable.
 *
 * @module
 */
import { Cancelled, ClosedError, LunetError, TimeoutError } from "../errors.ts";
import { Channel } from "../sync.ts";
import type { WaitOptions } from "../_wait.ts";
import type { MqttMessage } from "./options.ts";
import { matchedFilter, topicMatches } from "./_topic.ts";

let makeSubscription: (
  filters: string[],
  bufferSize: number,
  unsubscribe: (sub: Subscription, opts: WaitOptions | undefined) => Promise<void>,
) => Subscription;
let deliverTo: (sub: Subscription, msg: MqttMessage) => Promise<void> | undefined;
let endOf: (sub: Subscription, err: Error | undefined) => void;
let grant: (sub: Subscription, codes: number[]) => void;

/**
 * The messages matching the filters of one {@linkcode MqttClient.subscribe}
 * call. Iterate it with `for await`, or take one message at a time with
 * {@linkcode Subscription.recv} (which accepts a timeout). Iteration ends
 * after {@linkcode Subscription.unsubscribe} or the client's `close()`; it
 * throws the client's error when the client closed because its connection
 * was lost and reconnecting is off. Messages are buffered up to the
 * subscription's `bufferSize`. Beyond it, a QoS 1/2 message waits for room
 * with its acknowledgement withheld (so the broker's inflight limit bounds
 * how many wait), and a QoS 0 message is dropped and counted in
 * {@linkcode Subscription.dropped}. The connection keeps being read either
 * way, so the client's own publishes and pings go on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "@lunet/lunet/mqtt";
 * const site = `lunet-doc/${crypto.randomUUID()}`;
 * const client = await connect("mqtt://127.0.0.1:1883");
 * const sub = await client.subscribe(`${site}/+/temp`, { qos: 1 });
 * await client.publish(`${site}/t1/temp`, "21.5", { qos: 1 });
 * for await (const msg of sub) {
 *   assert.equal(new TextDecoder().decode(msg.payload), "21.5");
 *   break;
 * }
 * await client.close();
 * ```
 */
export class Subscription implements AsyncIterable<MqttMessage>, AsyncDisposable {
  /** The topic filters subscribed to, as given. */
  readonly filters: readonly string[];
  #match: string[];
  #channel: Channel<MqttMessage>;
  #granted: number[] = [];
  #error: Error | undefined;
  #ended = false;
  #dropped = 0;
  #unsubscribe: (sub: Subscription, opts: WaitOptions | undefined) => Promise<void>;

  static {
    makeSubscription = (filters, size, unsubscribe) => new Subscription(filters, size, unsubscribe);
    deliverTo = (sub, msg) => sub.#deliver(msg);
    endOf = (sub, err) => sub.#end(err);
    grant = (sub, codes) => {
      sub.#granted = codes;
    };
  }

  /** @ignore */
  private constructor(
    filters: string[],
    bufferSize: number,
    unsubscribe: (sub: Subscription, opts: WaitOptions | undefined) => Promise<void>,
  ) {
    this.filters = Object.freeze([...filters]);
    this.#match = filters.map(matchedFilter);
    this.#channel = new Channel(bufferSize);
    this.#unsubscribe = unsubscribe;
  }

  /**
   * What the broker granted, one entry per filter: the QoS (0, 1, 2), or on
   * MQTT 5.0 a reason code below 0x80. Empty until the SUBACK came.
   */
  get granted(): readonly number[] {
    return this.#granted;
  }

  /** True once the subscription has ended (unsubscribed or client closed). */
  get closed(): boolean {
    return this.#ended;
  }

  /** True when `topic` matches one of the filters. */
  matches(topic: string): boolean {
    const m = this.#match;
    for (let i = 0; i < m.length; i++) if (topicMatches(m[i], topic)) return true;
    return false;
  }

  #deliver(msg: MqttMessage): Promise<void> | undefined {
    const ch = this.#channel;
    if (ch.closed) return undefined;
    if (ch.length < ch.capacity) {
      ch.send(msg);
      return undefined;
    }
    if (msg.qos === 0) {
      this.#dropped++;
      return undefined;
    }
    // Waits for room; a subscription that ends meanwhile just drops it.
    return ch.send(msg).catch(ignore);
  }

  /**
   * QoS 0 messages dropped because the buffer was full (at most once
   * allows it; QoS 1/2 messages wait instead, their acknowledgement
   * withheld, so the broker's inflight limit bounds them).
   */
  get dropped(): number {
    return this.#dropped;
  }

  #end(err: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = err;
    this.#channel.close();
  }

  /**
   * The next message. Throws {@linkcode ClosedError} once the subscription
   * has ended and its buffer is drained (or the client's error, when it
   * ended with one).
   */
  async recv(opts?: WaitOptions): Promise<MqttMessage> {
    try {
      return await this.#channel.recv(opts);
    } catch (err) {
      if (err instanceof ClosedError && this.#error) throw this.#error;
      throw renamed(err, `recv ${this.filters.join(", ")}`);
    }
  }

  /**
   * Yields messages until the subscription ends. (A plain iterator over
   * the buffer rather than a generator: one promise per message.)
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<MqttMessage> {
    const it: AsyncIterableIterator<MqttMessage> = {
      next: () => this.#channel.recv().then(toResult, (err) => this.#stop(err)),
      return: () => Promise.resolve(DONE),
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  #stop(err: unknown): IteratorResult<MqttMessage> {
    if (err instanceof ClosedError && this.#channel.closed) {
      if (this.#error) throw this.#error;
      return DONE;
    }
    throw err;
  }

  /**
   * Ends the subscription and sends UNSUBSCRIBE for those of its filters no
   * other subscription of the client uses; resolves on the UNSUBACK.
   * Messages already buffered can still be read.
   */
  unsubscribe(opts?: WaitOptions): Promise<void> {
    if (this.#ended) return Promise.resolve();
    this.#end(undefined);
    return this.#unsubscribe(this, opts);
  }

  /** Unsubscribes (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.unsubscribe();
  }
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

function toResult(value: MqttMessage): IteratorYieldResult<MqttMessage> {
  return { done: false, value };
}

// The channel's errors, named after the subscription ("recv a/#: timed out").
function renamed(err: unknown, what: string): unknown {
  if (!(err instanceof LunetError)) return err;
  if (err.code === "timeout") return new TimeoutError(what, { cause: err.cause });
  if (err.code === "cancelled") return new Cancelled(what, { cause: err.cause });
  if (err.code === "closed") return new ClosedError(what, { cause: err.cause });
  return err;
}

function ignore(): void {}

/** Makes a subscription (the constructor is private). */
export function newSubscription(
  filters: string[],
  bufferSize: number,
  unsubscribe: (sub: Subscription, opts: WaitOptions | undefined) => Promise<void>,
): Subscription {
  return makeSubscription(filters, bufferSize, unsubscribe);
}

/** Hands `msg` to `sub`; a promise means its buffer is full: wait before the next. */
export function deliver(sub: Subscription, msg: MqttMessage): Promise<void> | undefined {
  return deliverTo(sub, msg);
}

/** Ends `sub`, with `err` for its readers when given. */
export function endSubscription(sub: Subscription, err?: Error): void {
  endOf(sub, err);
}

/** Records what the broker granted `sub`. */
export function setGranted(sub: Subscription, codes: number[]): void {
  grant(sub, codes);
}

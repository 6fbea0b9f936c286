/**
 * The topic table of a process: which connections of this worker are
 * subscribed to which topic, and a `BroadcastChannel` that carries each
 * publication to the other workers of the process (Deno workers share
 * BroadcastChannels). The channel is open only while this worker has a
 * subscription, so an idle hub keeps nothing alive.
 *
 * @module
 */

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

/** The subscriptions of one worker. */
export class TopicHub {
  #topics = new Map<string, Map<object, Deliver>>();
  #count = 0;
  #channel: BroadcastChannel | undefined;

  /** Subscribes `owner` to `topic`; false when it already was. */
  add(topic: string, owner: object, deliver: Deliver): boolean {
    let subs = this.#topics.get(topic);
    if (!subs) this.#topics.set(topic, subs = new Map());
    if (subs.has(owner)) return false;
    subs.set(owner, deliver);
    if (this.#count++ === 0) this.#open();
    return true;
  }

  /** Unsubscribes `owner` from `topic`; false when it was not subscribed. */
  remove(topic: string, owner: object): boolean {
    const subs = this.#topics.get(topic);
    if (!subs?.delete(owner)) return false;
    if (subs.size === 0) this.#topics.delete(topic);
    if (--this.#count === 0) this.#close();
    return true;
  }

  /** Delivers to this worker's subscribers and posts to the other workers. */
  publish(topic: string, data: string | Uint8Array): number {
    const n = this.deliver(topic, data);
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

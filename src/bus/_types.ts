/**
 * The message bus interface: fan-out by topic and a replay log by stream.
 *
 * @module
 */
import type { WaitOptions } from "../_wait.ts";

/**
 * One message received on a topic.
 *
 * @example
 * ```ts
 * import type { BusMessage } from "@lunet/lunet/bus";
 * const msg: BusMessage = { topic: "chat", data: "hi" };
 * if (msg.topic !== "chat") throw new Error("topic");
 * ```
 */
export interface BusMessage {
  /** The topic it was published to. */
  topic: string;
  /** What was published. */
  data: string;
}

/**
 * One entry of a replay log.
 *
 * @example
 * ```ts
 * import type { BusEntry } from "@lunet/lunet/bus";
 * const entry: BusEntry = { id: "1700000000000-0", data: "event" };
 * if (entry.data !== "event") throw new Error("data");
 * ```
 */
export interface BusEntry {
  /** The entry's id, as `append` returned it; ids increase along a stream. */
  id: string;
  /** What was appended. */
  data: string;
}

/**
 * Options of {@linkcode Bus.readAfter}.
 *
 * @example
 * ```ts
 * import type { ReadOptions } from "@lunet/lunet/bus";
 * const opts: ReadOptions = { count: 100, timeout: 500 };
 * if (opts.count !== 100) throw new Error("count");
 * ```
 */
export interface ReadOptions extends WaitOptions {
  /** At most this many entries (default: all that are kept). */
  count?: number;
}

/**
 * The messages of one topic: `for await (const msg of sub)`, or
 * {@linkcode BusSubscription.next} with a timeout. Leaving the loop or
 * {@linkcode BusSubscription.close} unsubscribes.
 *
 * @example
 * ```ts
 * import { localBus } from "@lunet/lunet/bus";
 * const bus = localBus();
 * const sub = await bus.subscribe("news");
 * await bus.publish("news", "first");
 * for await (const msg of sub) {
 *   if (msg.data !== "first") throw new Error(msg.data);
 *   break; // unsubscribes
 * }
 * await bus.close();
 * ```
 */
export interface BusSubscription extends AsyncIterable<BusMessage> {
  /** The topic. */
  readonly topic: string;
  /** Messages dropped because this subscriber fell too far behind. */
  readonly dropped: number;
  /**
   * The next message, or `null` once closed.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  next(opts?: WaitOptions): Promise<BusMessage | null>;
  /** Unsubscribes: pending and later `next` calls return `null`. */
  close(): Promise<void>;
}

/**
 * A message bus. Fan-out: every subscriber of a topic (on any worker or
 * instance the implementation reaches) receives what is published to it
 * after its `subscribe` resolved; nothing is kept for later subscribers.
 * Replay: `append` adds to a bounded log, `readAfter` returns what follows
 * a known id, so a consumer that reconnects catches up.
 *
 * @example
 * ```ts
 * import { type Bus, localBus } from "@lunet/lunet/bus";
 * const bus: Bus = localBus();
 * const first = await bus.append("log", "a");
 * await bus.append("log", "b");
 * const after = await bus.readAfter("log", first);
 * if (after.length !== 1 || after[0].data !== "b") throw new Error("replay");
 * await bus.close();
 * ```
 */
export interface Bus {
  /** Sends `data` to every current subscriber of `topic`. */
  publish(topic: string, data: string, opts?: WaitOptions): Promise<void>;
  /** Subscribes to `topic`; messages published once it resolved are received. */
  subscribe(topic: string, opts?: WaitOptions): Promise<BusSubscription>;
  /** Appends `data` to the log `stream`; returns the entry's id. */
  append(stream: string, data: string, opts?: WaitOptions): Promise<string>;
  /**
   * The entries of `stream` after `id`, oldest first (`""` or `"0"`: from
   * the oldest kept). Entries beyond the log's bound are gone.
   */
  readAfter(stream: string, id: string, opts?: ReadOptions): Promise<BusEntry[]>;
  /** Ends every subscription of this bus and releases what it holds. */
  close(): Promise<void>;
}

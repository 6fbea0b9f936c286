/**
 * The in-process bus: topics and logs in this worker, carried to the
 * other workers of the process (`serve({ workers })`, any Deno worker)
 * over a `BroadcastChannel` named after the bus.
 *
 * @module
 */
import { badName, badText } from "./_checks.ts";
import { ClosedError } from "../errors.ts";
import { traceClose, traceOpen } from "../trace.ts";
import type { WaitOptions } from "../_wait.ts";
import { Inbox } from "./_inbox.ts";
import type { Bus, BusEntry, BusMessage, BusSubscription, ReadOptions } from "./_types.ts";
import { parseId } from "./_ids.ts";

/**
 * Options of {@linkcode localBus}.
 *
 * @example
 * ```ts
 * import type { LocalBusOptions } from "@lunet/lunet/bus";
 * const opts: LocalBusOptions = { name: "chat", maxLen: 500 };
 * if (opts.name !== "chat") throw new Error("name");
 * ```
 */
export interface LocalBusOptions {
  /** Buses of one name share topics and logs across workers; default `"default"`. */
  name?: string;
  /** Entries each log keeps (the oldest go first); default 10 000. */
  maxLen?: number;
  /** Messages a subscription queues before it drops; default 10 000. */
  limit?: number;
}

interface Entry extends BusEntry {
  ms: number;
  seq: number;
}

type Posted =
  | { kind: "publish"; topic: string; data: string }
  | { kind: "append"; stream: string; id: string; data: string };

const SEQ_TAG = 1 << 20;
// Counts per microsecond before an id borrows the next one's.
const PER_MICROSECOND = 64;

/**
 * The open buses of this worker by name: a `BroadcastChannel` reaches the
 * other workers only, so buses of one name in one worker reach each other
 * through this table.
 */
const open = new Map<string, Set<LocalBus>>();

class LocalSubscription implements BusSubscription {
  readonly topic: string;
  readonly inbox: Inbox<BusMessage>;
  #bus: LocalBus;

  constructor(bus: LocalBus, topic: string, limit: number) {
    this.#bus = bus;
    this.topic = topic;
    this.inbox = new Inbox(`bus subscription ${topic}: next message`, limit);
  }

  get dropped(): number {
    return this.inbox.dropped;
  }

  next(opts?: WaitOptions): Promise<BusMessage | null> {
    return this.inbox.next(opts);
  }

  close(): Promise<void> {
    this.inbox.close();
    this.#bus.unsubscribe(this);
    return Promise.resolve();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<BusMessage> {
    try {
      for (let msg; (msg = await this.inbox.next()) !== null;) yield msg;
    } finally {
      await this.close();
    }
  }
}

class LocalBus implements Bus {
  #topics = new Map<string, Set<LocalSubscription>>();
  #logs = new Map<string, Entry[]>();
  #channel: BroadcastChannel;
  #maxLen: number;
  #limit: number;
  #tag = Math.floor(Math.random() * SEQ_TAG);
  #lastMs = 0;
  #count = 0;
  #closed = false;
  #trace: number;
  #name: string;

  constructor(opts: LocalBusOptions) {
    const name = this.#name = opts.name ?? "default";
    this.#maxLen = opts.maxLen ?? 10_000;
    this.#limit = opts.limit ?? 10_000;
    this.#channel = new BroadcastChannel(`lunet/bus/${name}`);
    this.#channel.onmessage = (ev: MessageEvent<Posted>) => this.#receive(ev.data);
    this.#trace = traceOpen("bus", `local bus ${name}`);
    let peers = open.get(name);
    if (!peers) open.set(name, peers = new Set());
    peers.add(this);
  }

  /** Hands `msg` to this bus and to the other buses of its name in this worker. */
  #local(msg: Posted): void {
    for (const bus of open.get(this.#name) ?? []) bus.#receive(msg);
  }

  publish(topic: string, data: string): Promise<void> {
    const bad = badName("publish", "topic", topic) ?? badText("publish", topic, "data", data);
    if (bad) return Promise.reject(bad);
    if (this.#closed) return Promise.reject(new ClosedError(`bus publish ${topic}`));
    const msg: Posted = { kind: "publish", topic, data };
    this.#local(msg);
    this.#channel.postMessage(msg);
    return Promise.resolve();
  }

  subscribe(topic: string): Promise<BusSubscription> {
    const bad = badName("subscribe", "topic", topic);
    if (bad) return Promise.reject(bad);
    if (this.#closed) return Promise.reject(new ClosedError(`bus subscribe ${topic}`));
    const sub = new LocalSubscription(this, topic, this.#limit);
    let subs = this.#topics.get(topic);
    if (!subs) this.#topics.set(topic, subs = new Set());
    subs.add(sub);
    return Promise.resolve(sub);
  }

  unsubscribe(sub: LocalSubscription): void {
    const subs = this.#topics.get(sub.topic);
    if (subs?.delete(sub) && subs.size === 0) this.#topics.delete(sub.topic);
  }

  append(stream: string, data: string): Promise<string> {
    const bad = badName("append", "stream", stream) ?? badText("append", stream, "data", data);
    if (bad) return Promise.reject(bad);
    if (this.#closed) return Promise.reject(new ClosedError(`bus append ${stream}`));
    // `<ms>-<seq>` like a Redis stream id; the low bits of seq tell the
    // workers apart, so ids of different workers never collide, and the
    // high bits count past every id this bus has seen in that millisecond,
    // starting from the microsecond within it (the workers of a process
    // share one clock): an append told to a worker by a message that
    // overtook the earlier entry's own still gets the higher id.
    const now = (performance.timeOrigin + performance.now()) * 1000;
    const ms = Math.floor(now / 1000);
    const from = Math.floor(now % 1000) * PER_MICROSECOND;
    if (ms > this.#lastMs) {
      this.#lastMs = ms;
      this.#count = from;
    } else this.#count = ms === this.#lastMs ? Math.max(this.#count + 1, from) : this.#count + 1;
    const id = `${this.#lastMs}-${this.#count * SEQ_TAG + this.#tag}`;
    const msg: Posted = { kind: "append", stream, id, data };
    this.#local(msg);
    this.#channel.postMessage(msg);
    return Promise.resolve(id);
  }

  readAfter(stream: string, id: string, opts?: ReadOptions): Promise<BusEntry[]> {
    const bad = badName("readAfter", "stream", stream) ?? badText("readAfter", stream, "id", id);
    if (bad) return Promise.reject(bad);
    const log = this.#logs.get(stream);
    if (!log) return Promise.resolve([]);
    const [ms, seq] = parseId(id);
    let lo = 0, hi = log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = log[mid];
      if (e.ms < ms || (e.ms === ms && e.seq <= seq)) lo = mid + 1;
      else hi = mid;
    }
    const end = opts?.count === undefined ? log.length : Math.min(log.length, lo + opts.count);
    return Promise.resolve(log.slice(lo, end).map((e) => ({ id: e.id, data: e.data })));
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#channel.close();
    const peers = open.get(this.#name);
    if (peers?.delete(this) && peers.size === 0) open.delete(this.#name);
    for (const subs of this.#topics.values()) for (const sub of subs) sub.inbox.close();
    this.#topics.clear();
    this.#logs.clear();
    traceClose("bus", this.#trace);
    return Promise.resolve();
  }

  #receive(msg: Posted): void {
    if (msg?.kind === "publish") this.#deliver(msg.topic, msg.data);
    else if (msg?.kind === "append") this.#store(msg.stream, msg.id, msg.data);
  }

  #deliver(topic: string, data: string): void {
    const subs = this.#topics.get(topic);
    if (!subs) return;
    for (const sub of subs) sub.inbox.push({ topic, data });
  }

  #store(stream: string, id: string, data: string): void {
    let log = this.#logs.get(stream);
    if (!log) this.#logs.set(stream, log = []);
    const [ms, seq] = parseId(id);
    const entry: Entry = { id, data, ms, seq };
    // The next local id follows every id seen (a Lamport clock): an entry
    // appended after another worker's arrived gets a higher id.
    const count = Math.floor(seq / SEQ_TAG);
    if (ms > this.#lastMs) {
      this.#lastMs = ms;
      this.#count = count;
    } else if (ms === this.#lastMs && count > this.#count) this.#count = count;
    // Entries of other workers may arrive after later local ones: keep the
    // log in id order.
    let i = log.length;
    while (i > 0 && (log[i - 1].ms > ms || (log[i - 1].ms === ms && log[i - 1].seq > seq))) i--;
    log.splice(i, 0, entry);
    if (log.length > this.#maxLen) log.splice(0, log.length - this.#maxLen);
  }
}

/**
 * An in-process bus: subscribers in this worker and in every other worker
 * of the process that opened a bus of the same name receive each
 * publication, and each worker keeps a copy of every log (bounded by
 * `maxLen`). Workers of one process only (`serve({ workers })` with the
 * default thread isolation, or any Deno `Worker`): across processes
 * (`isolation: "process"`) or machines, use {@linkcode redisBus}. An entry appended by another worker reaches
 * this one's log when its message arrives, in id order; an id is higher
 * than every id its bus had seen and than every id made earlier by the
 * process's clock (to the microsecond), so appends that follow one another
 * across workers keep their order even when the earlier entry's message
 * has not arrived yet (appends within the same microsecond on two workers
 * are ordered by id).
 *
 * @example
 * ```ts
 * import { localBus } from "@lunet/lunet/bus";
 * const bus = localBus({ name: "doc" });
 * const sub = await bus.subscribe("greetings");
 * await bus.publish("greetings", "hello");
 * const msg = await sub.next({ timeout: 1000 });
 * if (msg?.data !== "hello") throw new Error("expected hello");
 * await bus.close();
 * ```
 */
export function localBus(opts: LocalBusOptions = {}): Bus {
  return new LocalBus(opts);
}

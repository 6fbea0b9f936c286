/**
 * The client's subscriptions: SUBSCRIBE/UNSUBSCRIBE with their
 * acknowledgements, the filters to subscribe again when a broker kept no
 * session, and the routing of each received message to the subscriptions
 * whose filters match it.
 *
 * @module
 */
import { isEarlyWake, type WaitOptions } from "../_wait.ts";
import type { Packet } from "./_codec.ts";
import { checkTopicFilter } from "./_topic.ts";
import { MqttError } from "./errors.ts";
import type { MqttMessage, QoS, SubscribeOptions } from "./options.ts";
import {
  deliver,
  endSubscription,
  newSubscription,
  setGranted,
  type Subscription,
} from "./subscription.ts";

type Request = (packet: Packet, what: string, opts: WaitOptions | undefined) => Promise<Packet>;

/** One subscribed filter as the broker knows it. */
interface FilterEntry {
  /** The SUBSCRIBE options entry (`topic`, `qos`, `nl`, `rap`, `rh`). */
  entry: Record<string, unknown>;
  properties?: Record<string, unknown>;
  /** True once a SUBACK granted it: only those are subscribed again. */
  acked: boolean;
}

/** Messages that matched no subscription wait this long for one, at most this many. */
const HOLD_MS = 10_000, HOLD_LIMIT = 1000;
const DEFAULT_BUFFER = 10_000;

/** Checks a QoS value. */
export function checkQos(qos: unknown, what: string): QoS {
  if (qos !== 0 && qos !== 1 && qos !== 2) {
    throw new RangeError(`${what}: qos must be 0, 1 or 2, got ${String(qos)}`);
  }
  return qos;
}

/** See the module notes. */
export class Router {
  #subs = new Set<Subscription>();
  #filters = new Map<string, FilterEntry>();
  #held: Array<{ msg: MqttMessage; at: number }> = [];
  #request: Request;

  constructor(readonly protocolVersion: 4 | 5, request: Request) {
    this.#request = request;
  }

  /** Routes `msg`; a promise means a subscription buffer is full: it settles once all took it. */
  route(msg: MqttMessage): Promise<void> | undefined {
    let wait: Promise<void> | undefined;
    let matched = false;
    for (const sub of this.#subs) {
      if (!sub.matches(msg.topic)) continue;
      matched = true;
      const w = deliver(sub, msg);
      if (w) wait = wait ? Promise.all([wait, w]).then(ignore) : w;
    }
    if (!matched) {
      this.#held.push({ msg, at: Date.now() });
      if (this.#held.length > HOLD_LIMIT) this.#held.shift();
    }
    return wait;
  }

  async subscribe(filters: string[], opts: SubscribeOptions | undefined): Promise<Subscription> {
    if (filters.length === 0) throw new TypeError("subscribe: no topic filter given");
    for (const f of filters) checkTopicFilter(f);
    const what = `subscribe ${filters.join(", ")}`;
    const qos = checkQos(opts?.qos ?? 0, what);
    const size = opts?.bufferSize ?? DEFAULT_BUFFER;
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`${what}: bufferSize must be a positive integer, got ${size}`);
    }
    const sub = newSubscription(filters, size, (s, o) => this.#unsubscribeSub(s, o));
    this.#subs.add(sub);
    this.#takeHeld(sub);
    const v5 = this.protocolVersion === 5;
    const entries = filters.map((topic) => {
      const e: Record<string, unknown> = { topic, qos };
      if (v5) {
        if (opts?.noLocal) e.nl = true;
        if (opts?.retainAsPublished) e.rap = true;
        if (opts?.retainHandling !== undefined) e.rh = opts.retainHandling;
      }
      return e;
    });
    const properties = v5 && opts?.userProperties
      ? { userProperties: opts.userProperties }
      : undefined;
    const packet: Packet = { cmd: "subscribe", subscriptions: entries };
    if (properties) packet.properties = properties;
    for (const e of entries) {
      const known = this.#filters.get(e.topic as string);
      this.#filters.set(e.topic as string, { entry: e, properties, acked: known?.acked ?? false });
    }
    let ack: Packet;
    try {
      ack = await this.#request(packet, what, opts);
    } catch (err) {
      this.#drop(sub, isEarlyWake(err));
      throw err;
    }
    const granted: number[] = ack.granted ?? [];
    const bad = granted.findIndex((c) => c >= 0x80);
    if (bad >= 0) {
      this.#drop(sub, false);
      throw new MqttError(`subscribe ${filters[bad]}`, granted[bad], ack.properties?.reasonString);
    }
    for (const f of filters) {
      const e = this.#filters.get(f);
      if (e) e.acked = true;
    }
    setGranted(sub, granted);
    return sub;
  }

  /** Forgets a subscription whose SUBSCRIBE failed; `unsubscribe` tells the broker too. */
  #drop(sub: Subscription, unsubscribe: boolean): void {
    endSubscription(sub);
    this.#subs.delete(sub);
    const gone = this.#unused(sub.filters);
    for (const f of gone) this.#filters.delete(f);
    if (unsubscribe && gone.length > 0) {
      this.#request({ cmd: "unsubscribe", unsubscriptions: gone }, "unsubscribe", undefined)
        .catch(ignore);
    }
  }

  #unused(filters: readonly string[]): string[] {
    const out: string[] = [];
    for (const f of new Set(filters)) {
      let used = false;
      for (const s of this.#subs) if (s.filters.includes(f)) used = true;
      if (!used) out.push(f);
    }
    return out;
  }

  #takeHeld(sub: Subscription): void {
    const now = Date.now();
    const keep: Array<{ msg: MqttMessage; at: number }> = [];
    for (const h of this.#held) {
      if (now - h.at > HOLD_MS) continue;
      if (sub.matches(h.msg.topic)) deliver(sub, h.msg)?.catch(ignore);
      else keep.push(h);
    }
    this.#held = keep;
  }

  async #unsubscribeSub(sub: Subscription, opts: WaitOptions | undefined): Promise<void> {
    this.#subs.delete(sub);
    const gone = this.#unused(sub.filters);
    if (gone.length > 0) await this.#sendUnsubscribe(gone, opts);
  }

  async unsubscribe(filters: string[], opts: WaitOptions | undefined): Promise<void> {
    for (const f of filters) checkTopicFilter(f, "unsubscribe");
    const set = new Set(filters);
    for (const sub of [...this.#subs]) {
      if (sub.filters.every((f) => set.has(f))) {
        this.#subs.delete(sub);
        endSubscription(sub);
      }
    }
    await this.#sendUnsubscribe([...set], opts);
  }

  async #sendUnsubscribe(filters: string[], opts: WaitOptions | undefined): Promise<void> {
    for (const f of filters) this.#filters.delete(f);
    const what = `unsubscribe ${filters.join(", ")}`;
    const ack = await this.#request({ cmd: "unsubscribe", unsubscriptions: filters }, what, opts);
    const codes: number[] = ack.granted ?? [];
    const bad = codes.findIndex((c) => c >= 0x80);
    if (bad >= 0) {
      throw new MqttError(`unsubscribe ${filters[bad]}`, codes[bad], ack.properties?.reasonString);
    }
  }

  /** Subscribes again to every granted filter (the broker kept no session). */
  resubscribe(): void {
    for (const [topic, f] of this.#filters) {
      if (!f.acked) continue;
      const packet: Packet = { cmd: "subscribe", subscriptions: [f.entry] };
      if (f.properties) packet.properties = f.properties;
      this.#request(packet, `resubscribe ${topic}`, undefined).then((ack) => {
        const code: number = ack.granted?.[0] ?? 0;
        if (code < 0x80) return;
        const err = new MqttError(`resubscribe ${topic}`, code, ack.properties?.reasonString);
        for (const sub of this.#subs) {
          if (sub.filters.includes(topic)) endSubscription(sub, err);
        }
      }, ignore);
    }
  }

  /** Ends every subscription (the client closed), with `err` for their readers. */
  endAll(err: Error | undefined): void {
    for (const sub of this.#subs) endSubscription(sub, err);
    this.#subs.clear();
    this.#held = [];
  }
}

function ignore(): void {}

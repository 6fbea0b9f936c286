/**
 * Publish/receive throughput through Mosquitto (LUNET_MQTT_URL, default
 * mqtt://127.0.0.1:1883): lunet/mqtt against MQTT.js (`npm:mqtt`) in the
 * same run, the same scenario for both.
 *
 * One publishing client and one subscribing client (two connections), a
 * 64-byte payload, MQTT 3.1.1. The publisher sends batches of 100
 * publishes at once (QoS 0: each resolves once written; QoS 1: on its
 * PUBACK) and keeps at most 2,000 messages ahead of what the subscriber has
 * received, so the broker never drops for a slow reader. The figure is
 * messages per second from the first publish to the last message received.
 * Rounds run in the order lunet, MQTT.js, MQTT.js, lunet (three times that
 * with the full run); the best round of each counts, which filters out
 * other load on a shared machine.
 *
 *     deno run -A bench/mqtt_load.ts [--smoke]
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { connect } from "../src/mqtt/mod.ts";

const url = Deno.env.get("LUNET_MQTT_URL") ?? "mqtt://127.0.0.1:1883";
const smoke = Deno.args.includes("--smoke");
const BATCH = 100, AHEAD = 2000;
const payload = new Uint8Array(64).fill(0x61);

/** One side of the comparison: a publisher, a subscriber, a receive counter. */
interface Pair {
  publish(topic: string, qos: 0 | 1): Promise<void>;
  received(): number;
  /** Resolves once `n` messages have been received in all. */
  until(n: number): Promise<void>;
  close(): Promise<void>;
}

class Counter {
  count = 0;
  #waiters: Array<{ n: number; resolve: () => void }> = [];
  add(): void {
    this.count++;
    if (this.#waiters.length && this.#waiters[0].n <= this.count) {
      this.#waiters = this.#waiters.filter((
        w,
      ) => (w.n <= this.count ? (w.resolve(), false) : true));
    }
  }
  until(n: number): Promise<void> {
    if (this.count >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }
}

async function lunetPair(topic: string, qos: 0 | 1): Promise<Pair> {
  const pub = await connect(url, { inflight: 1000 });
  const sub = await connect(url);
  const subscription = await sub.subscribe(topic, { qos });
  const counter = new Counter();
  const reader = (async () => {
    for await (const _ of subscription) counter.add();
  })();
  return {
    publish: (t, q) => pub.publish(t, payload, { qos: q }),
    received: () => counter.count,
    until: (n) => counter.until(n),
    async close() {
      await pub.close();
      await sub.close();
      await reader;
    },
  };
}

async function mqttjsPair(topic: string, qos: 0 | 1): Promise<Pair> {
  // deno-lint-ignore no-import-prefix
  const mqtt = await import("npm:mqtt@^5");
  const pub = await mqtt.connectAsync(url, { protocolVersion: 4 });
  const sub = await mqtt.connectAsync(url, { protocolVersion: 4 });
  const counter = new Counter();
  sub.on("message", (_t: string, _p: Buffer) => counter.add());
  await sub.subscribeAsync(topic, { qos });
  const bytes = Buffer.from(payload);
  return {
    publish: (t, q) => pub.publishAsync(t, bytes, { qos: q }).then(() => {}),
    received: () => counter.count,
    until: (n) => counter.until(n),
    async close() {
      await pub.endAsync();
      await sub.endAsync();
    },
  };
}

async function round(make: typeof lunetPair, qos: 0 | 1, n: number): Promise<number> {
  const topic = `lunet-bench/${crypto.randomUUID().slice(0, 8)}`;
  const pair = await make(topic, qos);
  const t0 = performance.now();
  for (let sent = 0; sent < n;) {
    const batch = Math.min(BATCH, n - sent);
    const pending: Promise<void>[] = [];
    for (let i = 0; i < batch; i++) pending.push(pair.publish(topic, qos));
    sent += batch;
    await Promise.all(pending);
    if (sent - pair.received() > AHEAD) await pair.until(sent - AHEAD);
  }
  await pair.until(n);
  const rate = n / ((performance.now() - t0) / 1000);
  await pair.close();
  return rate;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(`# lunet/mqtt vs MQTT.js through Mosquitto${smoke ? " (smoke)" : ""}\n`);
console.log("| test | lunet/mqtt msg/s | MQTT.js msg/s | ratio |");
console.log("| --- | --- | --- | --- |");
for (const qos of [0, 1] as const) {
  const n = smoke ? 2000 : qos === 0 ? 100_000 : 40_000;
  const best = { lunet: 0, mqttjs: 0 };
  for (let r = 0; r < (smoke ? 1 : 3); r++) {
    best.lunet = Math.max(best.lunet, await round(lunetPair, qos, n));
    best.mqttjs = Math.max(best.mqttjs, await round(mqttjsPair, qos, n));
    best.mqttjs = Math.max(best.mqttjs, await round(mqttjsPair, qos, n));
    best.lunet = Math.max(best.lunet, await round(lunetPair, qos, n));
  }
  const ratio = (best.lunet / best.mqttjs).toFixed(2);
  console.log(
    `| QoS ${qos}, 64 B, ${fmt(n)} messages | ${fmt(best.lunet)} | ${
      fmt(best.mqttjs)
    } | ${ratio}× |`,
  );
}

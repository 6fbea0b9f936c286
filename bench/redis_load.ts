/**
 * Redis load comparison, side by side in one run:
 *
 * 1. GET/SET from 100 concurrent tasks (alternating SET and GET of 100
 *    keys), through lunet/redis vs the raw `npm:redis` client (node-redis
 *    v5, its own connection), both on one connection to 127.0.0.1:6379,
 *    both loops in lunet tasks, in A B B A A B B A order after a warm-up
 *    of each; the best rate and the lowest CPU per operation of each side.
 *    CPU per operation is this process's user + system time from
 *    `/proc/self/stat` (the server's is not counted).
 * 2. Cross-process pub/sub latency: this process publishes a message, a
 *    child process receives it and publishes it back on another channel,
 *    this process receives it. p50/p99 of that round trip (two
 *    publish→receive hops; one hop is about half), lunet/redis on both
 *    ends (`sub.next()` as `for await` calls it) vs bare node-redis
 *    publish/subscribe on both ends (a listener callback), one message in
 *    flight at a time, 5,000 messages after 200 of warm-up; three rounds of
 *    A B B A, the lowest p50 and p99 of each side.
 *
 * Run: deno run -A bench/redis_load.ts [--smoke]
 */
import { createClient } from "redis";
import { scope, spawn } from "../mod.ts";
import * as redis from "../drivers/redis.ts";
import { readEnv } from "../src/_env.ts";
import { alternate, cpuNow, type Rate } from "./_rates.ts";

const REDIS_URL = readEnv("LUNET_REDIS_URL") ?? "redis://127.0.0.1:6379";

// Child mode: echo every message of channel `inbox` to channel `outbox`.
if (Deno.args[0] === "--echo") {
  const [, kind, inbox, outbox] = Deno.args;
  if (kind === "lunet") {
    const db = await redis.open(REDIS_URL);
    const sub = await db.subscribe(inbox);
    console.log("ready");
    for await (const msg of sub) {
      if (msg.message === "stop") break;
      await db.publish(outbox, msg.message);
    }
    await db.close();
  } else {
    const pub = createClient({ url: REDIS_URL });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    let stop: () => void;
    const stopped = new Promise<void>((r) => stop = r);
    await sub.subscribe(inbox, (message) => {
      if (message === "stop") stop();
      else void pub.publish(outbox, message);
    });
    console.log("ready");
    await stopped;
    await Promise.all([pub.close(), sub.close()]);
  }
  Deno.exit(0);
}

const smoke = Deno.args.includes("--smoke");
/** Each side warmed, then run in A B B A A B B A order; the best of each. */
const sides = (a: () => Promise<Rate>, b: () => Promise<Rate>) =>
  alternate(a, b, "abbaabba", smoke);
const SECONDS = smoke ? 0.4 : 3;
const TASKS = 100;
const MESSAGES = smoke ? 200 : 5000;

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
/** `TASKS` tasks each loop over `op` for the configured time; the total rate. */
async function concurrentRate(op: (i: number) => Promise<unknown>): Promise<Rate> {
  for (let i = 0; i < 500; i++) await op(i);
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  const cpu0 = cpuNow();
  const start = performance.now();
  await scope(() => {
    for (let t = 0; t < TASKS; t++) {
      spawn(async () => {
        while (performance.now() < end) await op(n++);
      });
    }
  });
  return { qps: n / ((performance.now() - start) / 1000), cpu: (cpuNow() - cpu0) / n };
}

async function getSet(): Promise<string> {
  const db = await redis.open(REDIS_URL);
  const raw = createClient({ url: REDIS_URL });
  await raw.connect();
  const key = (i: number) => `lunet:bench:k${i % 100}`;
  try {
    const [lunet, bare] = await sides(
      () => concurrentRate((i) => i & 1 ? db.get(key(i)) : db.set(key(i), "value")),
      () => concurrentRate((i) => i & 1 ? raw.get(key(i)) : raw.set(key(i), "value")),
    );
    return `| GET/SET, 100 tasks, one connection | ${fmt(lunet.qps)} q/s (${
      lunet.cpu.toFixed(1)
    } µs CPU/op) | ${fmt(bare.qps)} q/s (${bare.cpu.toFixed(1)} µs CPU/op) | ${
      (lunet.qps / bare.qps).toFixed(2)
    }× |`;
  } finally {
    await db.del(Array.from({ length: 100 }, (_, i) => key(i)));
    await db.close();
    await raw.close();
  }
}

/** Starts the echo child of `kind` and waits until it has subscribed. */
async function echoChild(kind: string, inbox: string, outbox: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--echo", kind, inbox, outbox],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`echo child ${kind} ended early`);
    seen += value;
  }
  reader.releaseLock();
  return child;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** p50/p99 round trip in ms, this process → child → this process. */
async function pubsubLatency(kind: "lunet" | "raw"): Promise<[number, number]> {
  const inbox = `lunet:bench:ping:${kind}`, outbox = `lunet:bench:pong:${kind}`;
  const child = await echoChild(kind, inbox, outbox);
  const samples: number[] = [];
  try {
    if (kind === "lunet") {
      const db = await redis.open(REDIS_URL);
      const sub = await db.subscribe(outbox);
      for (let i = -200; i < MESSAGES; i++) {
        const t0 = performance.now();
        await db.publish(inbox, String(i));
        await sub.next();
        if (i >= 0) samples.push(performance.now() - t0);
      }
      await db.publish(inbox, "stop");
      await db.close();
    } else {
      const pub = createClient({ url: REDIS_URL });
      const sub = pub.duplicate();
      await Promise.all([pub.connect(), sub.connect()]);
      let wake: () => void = () => {};
      await sub.subscribe(outbox, () => wake());
      for (let i = -200; i < MESSAGES; i++) {
        const t0 = performance.now();
        const got = new Promise<void>((r) => wake = r);
        await pub.publish(inbox, String(i));
        await got;
        if (i >= 0) samples.push(performance.now() - t0);
      }
      await pub.publish(inbox, "stop");
      await Promise.all([pub.close(), sub.close()]);
    }
  } finally {
    await child.status;
  }
  samples.sort((a, b) => a - b);
  return [percentile(samples, 0.5), percentile(samples, 0.99)];
}

const rows = [await getSet()];
const ms = (n: number) => `${n.toFixed(3)} ms`;
const latency: Record<string, [number, number]> = {};
const rounds: ("lunet" | "raw")[] = smoke
  ? ["lunet", "raw"]
  : Array.from({ length: 3 }, () => ["lunet", "raw", "raw", "lunet"] as const).flat();
for (const kind of rounds) {
  const [p50, p99] = await pubsubLatency(kind);
  const prev = latency[kind];
  latency[kind] = prev ? [Math.min(prev[0], p50), Math.min(prev[1], p99)] : [p50, p99];
}
rows.push(
  `| pub/sub round trip across processes, p50 / p99 | ${ms(latency.lunet[0])} / ${
    ms(latency.lunet[1])
  } | ${ms(latency.raw[0])} / ${ms(latency.raw[1])} | ${
    (latency.raw[0] / latency.lunet[0]).toFixed(2)
  }× (p50) |`,
);
console.log("| Redis (127.0.0.1:6379) | lunet/redis | npm:redis | lunet/raw |");
console.log("|---|---|---|---|");
for (const r of rows) console.log(r);

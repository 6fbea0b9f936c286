/**
 * The cost of shared state: the MCP example behind nginx (deploy/nginx.conf),
 * one instance with its sessions in memory against three instances sharing
 * them on a private Redis (`MCP_REDIS_URL`), run A B B A after a warm-up of
 * each. The machine has 2 cores: three instances do not scale out here,
 * they show what Redis adds to each call.
 *
 * 1. Tool calls through nginx: `--clients` clients (one session each, raw
 *    fetch, replies as SSE as the SDK asks for them) make `--calls` calls of
 *    `test_simple_text` in all: calls/s, p50 and p99 latency, CPU per call
 *    of the instances (+ Redis), from `/proc/<pid>/stat`; and the Redis
 *    commands per call (the `INFO commandstats` delta over the calls).
 * 2. Cross-instance delivery: this process publishes on a bus topic, a child
 *    process receives it and publishes it back on another; one delivery
 *    (publish on A → receive on B) is half that round trip, p50/p99,
 *    lunet's `redisBus` against a bare npm:redis publish/subscribe loop.
 *
 *     deno run -A bench/scale_load.ts            # 4000 calls per run, 2000 messages
 *     deno run -A bench/scale_load.ts --smoke    # 400 calls, 200 messages, one run each
 *
 * Prints markdown tables.
 *
 * @module
 */
import { createClient } from "redis";
import * as redis from "../drivers/redis.ts";
import { redisBus } from "../src/bus.ts";
import { Cluster } from "../tests/scale_cluster.ts";
import { alternate, type Rate } from "./_rates.ts";
import { openSession } from "./_mcp_session.ts";

const args = Deno.args;
const smoke = args.includes("--smoke");
const flag = (name: string, dflt: number) =>
  Number(args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
const CALLS = flag("calls", smoke ? 400 : 4000);
const CLIENTS = flag("clients", 20);
const MESSAGES = flag("messages", smoke ? 200 : 2000);
const TICK_US = 1e6 / 100;

/** User + system CPU time of process `pid` so far, µs. */
function cpuOf(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * TICK_US;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** Total commands Redis has run (`INFO commandstats`). */
async function commandsRun(db: redis.Redis): Promise<number> {
  const info = String(await db.command("INFO", "commandstats"));
  let n = 0;
  for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) {
    if (m[1] !== "info") n += Number(m[2]);
  }
  return n;
}

interface CallRun extends Rate {
  p50: number;
  p99: number;
  commands: number;
}

/** `CALLS` tool calls from `CLIENTS` sessions through `cluster`'s nginx. */
async function calls(cluster: Cluster, db: redis.Redis | undefined): Promise<CallRun> {
  const sessions = await Promise.all(
    Array.from({ length: CLIENTS }, () => openSession(cluster.url, "b")),
  );
  const pids = [
    ...cluster.instances.map((p) => p!.child.pid),
    ...(cluster.redis ? [cluster.redis.child.pid] : []),
  ];
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: { name: "test_simple_text", arguments: {} },
  });
  const samples: number[] = [];
  let left = CALLS;
  const cmd0 = db ? await commandsRun(db) : 0;
  const cpu0 = pids.reduce((s, p) => s + cpuOf(p), 0);
  const t0 = performance.now();
  await Promise.all(sessions.map(async (headers) => {
    while (left-- > 0) {
      const s = performance.now();
      const res = await fetch(cluster.url, { method: "POST", headers, body });
      const text = await res.text();
      if (res.status !== 200 || !text.includes("simple text")) {
        throw new Error(`call: ${res.status} ${text}`);
      }
      samples.push(performance.now() - s);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  const cpu = pids.reduce((s, p) => s + cpuOf(p), 0) - cpu0;
  const commands = db ? await commandsRun(db) - cmd0 - 1 : 0;
  await Promise.all(
    sessions.map((headers) =>
      fetch(cluster.url, { method: "DELETE", headers }).then((r) => r.text())
    ),
  );
  samples.sort((a, b) => a - b);
  return {
    qps: CALLS / secs,
    cpu: cpu / CALLS,
    p50: percentile(samples, 0.5),
    p99: percentile(samples, 0.99),
    commands: commands / CALLS,
  };
}

/** The child: receives on `inbox` and sends each message back on `outbox` until "stop". */
async function receiver(kind: string, inbox: string, outbox: string): Promise<void> {
  if (kind === "lunet") {
    const db = await redis.open("redis://127.0.0.1:6379");
    const bus = redisBus(db, { prefix: "" });
    const sub = await bus.subscribe(inbox);
    console.log("ready");
    for await (const msg of sub) {
      if (msg.data === "stop") break;
      await bus.publish(outbox, msg.data);
    }
    await bus.close();
    await db.close();
  } else {
    const pub = createClient({ url: "redis://127.0.0.1:6379" });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    const done = Promise.withResolvers<void>();
    await sub.subscribe(inbox, (data) => {
      if (data === "stop") done.resolve();
      else void pub.publish(outbox, data);
    });
    console.log("ready");
    await done.promise;
    await Promise.all([pub.close(), sub.close()]);
  }
}

/**
 * p50/p99 of one delivery in ms, with `kind` on both ends: half the round
 * trip this process → the child → this process (two processes' clocks do
 * not agree to the microsecond, one process's does).
 */
async function delivery(kind: "lunet" | "raw"): Promise<[number, number]> {
  const inbox = `lunet:bench:deliver:${kind}`, outbox = `lunet:bench:back:${kind}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--receiver", kind, inbox, outbox],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("ready")) out += (await lines.read()).value ?? "";
  await lines.cancel();
  const samples: number[] = [];
  if (kind === "lunet") {
    const db = await redis.open("redis://127.0.0.1:6379");
    const bus = redisBus(db, { prefix: "" });
    const back = await bus.subscribe(outbox);
    for (let i = -200; i < MESSAGES; i++) {
      const t0 = performance.now();
      await bus.publish(inbox, String(i));
      await back.next();
      if (i >= 0) samples.push((performance.now() - t0) / 2);
    }
    await bus.publish(inbox, "stop");
    await bus.close();
    await db.close();
  } else {
    const pub = createClient({ url: "redis://127.0.0.1:6379" });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    let wake = () => {};
    await sub.subscribe(outbox, () => wake());
    for (let i = -200; i < MESSAGES; i++) {
      const t0 = performance.now();
      const back = new Promise<void>((r) => wake = r);
      await pub.publish(inbox, String(i));
      await back;
      if (i >= 0) samples.push((performance.now() - t0) / 2);
    }
    await pub.publish(inbox, "stop");
    await Promise.all([pub.close(), sub.close()]);
  }
  await child.status;
  samples.sort((a, b) => a - b);
  return [percentile(samples, 0.5), percentile(samples, 0.99)];
}

if (args[0] === "--receiver") {
  await receiver(args[1], args[2], args[3]);
  Deno.exit(0);
}

const memory = new Cluster(1, false);
const shared = new Cluster(3, true);
let db: redis.Redis | undefined;
try {
  await Promise.all([memory.start(), shared.start()]);
  db = await redis.open(`redis://127.0.0.1:${shared.redisPort}`);
  const best: Record<string, CallRun> = {};
  const keep = (side: string, r: CallRun) => {
    const b = best[side];
    best[side] = b
      ? {
        ...b,
        p50: Math.min(b.p50, r.p50),
        p99: Math.min(b.p99, r.p99),
        commands: Math.min(b.commands, r.commands),
      }
      : r;
    return r;
  };
  const [a, b] = await alternate(
    async () => keep("memory", await calls(memory, undefined)),
    async () => keep("shared", await calls(shared, db)),
    "abba",
    smoke,
  );
  const ms = (n: number) => `${n.toFixed(2)} ms`;
  console.log(`\n${CALLS} calls of test_simple_text per run, ${CLIENTS} clients, through nginx\n`);
  console.log("| | 1 instance, in memory | 3 instances on Redis | shared / memory |");
  console.log("|---|---|---|---|");
  console.log(
    `| calls/s | ${a.qps.toFixed(0)} | ${b.qps.toFixed(0)} | ${(b.qps / a.qps).toFixed(2)}× |`,
  );
  console.log(
    `| p50 | ${ms(best.memory.p50)} | ${ms(best.shared.p50)} | ${
      (best.shared.p50 / best.memory.p50).toFixed(2)
    }× |`,
  );
  console.log(
    `| p99 | ${ms(best.memory.p99)} | ${ms(best.shared.p99)} | ${
      (best.shared.p99 / best.memory.p99).toFixed(2)
    }× |`,
  );
  console.log(
    `| CPU per call (instances + Redis) | ${a.cpu.toFixed(0)} µs | ${b.cpu.toFixed(0)} µs | ${
      (b.cpu / a.cpu).toFixed(2)
    }× |`,
  );
  console.log(`| Redis commands per call | 0 | ${best.shared.commands.toFixed(2)} | |`);
} finally {
  await db?.close();
  await Promise.all([memory.stop(), shared.stop()]);
}

const latency: Record<string, [number, number]> = {};
for (const kind of smoke ? ["lunet", "raw"] as const : ["lunet", "raw", "raw", "lunet"] as const) {
  const [p50, p99] = await delivery(kind);
  const prev = latency[kind];
  latency[kind] = prev ? [Math.min(prev[0], p50), Math.min(prev[1], p99)] : [p50, p99];
}
const ms3 = (n: number) => `${n.toFixed(3)} ms`;
console.log(
  `\nDelivery publish on A → receive on B (half the round trip to another process), ${MESSAGES} messages, one at a time\n`,
);
console.log("| | lunet redisBus | bare npm:redis | lunet / bare |");
console.log("|---|---|---|---|");
console.log(
  `| p50 | ${ms3(latency.lunet[0])} | ${ms3(latency.raw[0])} | ${
    (latency.lunet[0] / latency.raw[0]).toFixed(2)
  }× |`,
);
console.log(
  `| p99 | ${ms3(latency.lunet[1])} | ${ms3(latency.raw[1])} | ${
    (latency.lunet[1] / latency.raw[1]).toFixed(2)
  }× |`,
);

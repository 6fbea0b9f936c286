/**
 * Core throughput side by side, with tracing off and on: spawn + await
 * against a bare async call and a hand-rolled task (object +
 * AbortController), and channel ping-pong against a minimal promise queue.
 * The tracing-on column comes from a child process run with LUNET_TRACE=1.
 *
 * Run: deno run -A bench/core_load.ts [--smoke]
 */
import { Channel, spawn, trace } from "../mod.ts";

const smoke = Deno.args.includes("--smoke");
const child = Deno.args.includes("--child");
const BUDGET_MS = smoke ? 150 : 1500;

const answer = async () => {
  await null;
  return 42;
};

/** Runs `batch` repeatedly for the time budget; returns operations per second. */
async function rate(batch: () => Promise<number>): Promise<number> {
  await batch(); // warm up
  let ops = 0;
  const start = performance.now();
  while (performance.now() - start < BUDGET_MS) ops += await batch();
  return ops / ((performance.now() - start) / 1000);
}

class PromiseQueue<T> {
  #values: T[] = [];
  #waiter: ((v: T) => void) | undefined;
  push(v: T): void {
    const w = this.#waiter;
    if (w) {
      this.#waiter = undefined;
      w(v);
    } else this.#values.push(v);
  }
  pop(): Promise<T> {
    if (this.#values.length) return Promise.resolve(this.#values.shift()!);
    return new Promise((r) => this.#waiter = r);
  }
}

const N = 10_000;
const cases: Record<string, () => Promise<number>> = {
  "bare async call + await": async () => {
    for (let i = 0; i < N; i++) await answer();
    return N;
  },
  "hand-rolled task (object + AbortController)": async () => {
    for (let i = 0; i < N; i++) {
      const task = { controller: new AbortController(), promise: answer() };
      await task.promise;
    }
    return N;
  },
  "lunet spawn + await": async () => {
    for (let i = 0; i < N; i++) await spawn(answer);
    return N;
  },
  "promise queue ping-pong (round trips)": async () => {
    const ping = new PromiseQueue<number>(), pong = new PromiseQueue<number>();
    const peer = (async () => {
      for (let i = 0; i < N; i++) pong.push(await ping.pop());
    })();
    for (let i = 0; i < N; i++) {
      ping.push(i);
      await pong.pop();
    }
    await peer;
    return N;
  },
  "lunet Channel ping-pong (round trips)": async () => {
    const ping = new Channel<number>(), pong = new Channel<number>();
    const peer = spawn(async () => {
      for (let i = 0; i < N; i++) await pong.send(await ping.recv());
    });
    for (let i = 0; i < N; i++) {
      await ping.send(i);
      await pong.recv();
    }
    await peer;
    return N;
  },
};

const results: Record<string, number> = {};
for (const [name, batch] of Object.entries(cases)) results[name] = await rate(batch);

if (child) {
  console.log(JSON.stringify({ traced: trace.enabled, results }));
  Deno.exit(0);
}

const traced = await new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", import.meta.filename!, "--child", ...Deno.args],
  env: { LUNET_TRACE: "1" },
  stdout: "piped",
}).output();
const on: Record<string, number> = JSON.parse(new TextDecoder().decode(traced.stdout)).results;

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const base = (name: string) =>
  name.includes("ping-pong")
    ? results["promise queue ping-pong (round trips)"]
    : results["bare async call + await"];
console.log("| case | ops/s (tracing off) | vs baseline | ops/s (LUNET_TRACE=1) | tracing cost |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const [name, ops] of Object.entries(results)) {
  const cost = name.startsWith("lunet") ? `${(ops / on[name]).toFixed(2)}×` : "—";
  console.log(
    `| ${name} | ${fmt(ops)} | ${(ops / base(name)).toFixed(2)}× | ${fmt(on[name])} | ${cost} |`,
  );
}

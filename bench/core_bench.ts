/**
 * Core microbenchmarks: spawn + await against a bare async call and a
 * hand-rolled task (an object plus an AbortController), and channel
 * ping-pong against a minimal promise queue.
 *
 * Run: deno bench -A bench/core_bench.ts
 * With tracing on: LUNET_TRACE=1 deno bench -A bench/core_bench.ts
 */
import { Channel, spawn } from "../mod.ts";

const answer = async () => {
  await null;
  return 42;
};

Deno.bench("bare async call + await", { group: "spawn", baseline: true }, async () => {
  await answer();
});

Deno.bench("hand-rolled task (object + AbortController)", { group: "spawn" }, async () => {
  const task = { controller: new AbortController(), promise: answer() };
  await task.promise;
});

Deno.bench("lunet spawn + await", { group: "spawn" }, async () => {
  await spawn(answer);
});

const ROUNDS = 1000;

/** The smallest promise hand-off queue: one pending resolver at a time. */
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

Deno.bench(
  `promise queue ping-pong ×${ROUNDS}`,
  { group: "pingpong", baseline: true },
  async () => {
    const ping = new PromiseQueue<number>(), pong = new PromiseQueue<number>();
    const peer = (async () => {
      for (let i = 0; i < ROUNDS; i++) pong.push(await ping.pop());
    })();
    for (let i = 0; i < ROUNDS; i++) {
      ping.push(i);
      await pong.pop();
    }
    await peer;
  },
);

Deno.bench(`lunet Channel ping-pong ×${ROUNDS}`, { group: "pingpong" }, async () => {
  const ping = new Channel<number>(), pong = new Channel<number>();
  const peer = spawn(async () => {
    for (let i = 0; i < ROUNDS; i++) await pong.send(await ping.recv());
  });
  for (let i = 0; i < ROUNDS; i++) {
    await ping.send(i);
    await pong.recv();
  }
  await peer;
});

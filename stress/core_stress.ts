/**
 * Core stress: 50 workers × 100 operations rotating sleep, yieldNow and a
 * channel round trip through a pool of relay tasks (the original lunet's
 * stress shape), repeated for several rounds. A watchdog fails the run if
 * it stalls; any error, wrong answer or leaked task exits non-zero.
 *
 * Run: deno run -A stress/core_stress.ts [--smoke]
 */
import { Channel, scope, sleep, spawn, trace, withTimeout, yieldNow } from "../mod.ts";

const smoke = Deno.args.includes("--smoke");
const WORKERS = 50, OPS = 100, ROUNDS = smoke ? 2 : 20, RELAYS = 4;

interface Request {
  n: number;
  reply: Channel<number>;
}

async function round(): Promise<number> {
  const requests = new Channel<Request>();
  let ops = 0;
  await scope(() => {
    const relays = Array.from({ length: RELAYS }, () =>
      spawn(async () => {
        for await (const { n, reply } of requests) await reply.send(n + 1);
      }));
    const workers = Array.from({ length: WORKERS }, (_, w) =>
      spawn(async () => {
        const reply = new Channel<number>(1);
        for (let i = 0; i < OPS; i++) {
          switch ((w + i) % 3) {
            case 0:
              await sleep(i % 3);
              break;
            case 1:
              await yieldNow();
              break;
            default: {
              await requests.send({ n: i, reply });
              const got = await reply.recv();
              if (got !== i + 1) throw new Error(`worker ${w}: sent ${i}, got ${got}`);
            }
          }
          ops++;
        }
      }, { name: `worker-${w}` }));
    spawn(async () => {
      await Promise.all(workers);
      requests.close();
      await Promise.all(relays);
    });
  });
  return ops;
}

const started = performance.now();
let total = 0;
try {
  await withTimeout(smoke ? 30_000 : 300_000, async () => {
    const baseline = trace.snapshot().total;
    for (let r = 1; r <= ROUNDS; r++) {
      total += await round();
      const live = trace.snapshot().total - baseline;
      console.log(`round ${r}/${ROUNDS}: ${total} ops, ${live} live`);
      if (live !== 0) throw new Error(`leak after round ${r}: ${trace.report()}`);
    }
  });
} catch (err) {
  console.error(`core stress FAILED: ${err instanceof Error ? err.stack : err}`);
  Deno.exit(1);
}
const secs = (performance.now() - started) / 1000;
console.log(
  `core stress: ${total} ops in ${secs.toFixed(2)} s = ${
    Math.round(total / secs)
  } ops/s, 0 errors, 0 leaks`,
);

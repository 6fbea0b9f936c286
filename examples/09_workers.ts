/**
 * A server that stays up: two process workers share 127.0.0.1:18083, a
 * supervisor replaces one that dies or overruns `requestTimeLimit`, and
 * a counter lives in the shared dictionary every worker sees.
 *
 *   GET /pid     {"worker": <id>, "pid": <pid>} of the worker that answered
 *   GET /spin    loops forever, synchronously: its worker is ended after 2 s
 *                and replaced (the request gets a 503), while the other one
 *                keeps serving
 *   GET /status  the supervisor's view of every worker (JSON)
 *   GET /count   increments the shared counter and returns it
 *
 * Run:  deno run -A examples/09_workers.ts
 *       curl 127.0.0.1:18083/pid; curl 127.0.0.1:18083/count
 *       curl -m 5 127.0.0.1:18083/spin; curl 127.0.0.1:18083/status
 *       kill -HUP <pid of this process>    # rolling restart
 * With `--smoke` it starts, checks every route (the endless loop
 * included) over real connections, and exits.
 */
import { currentWorker, Router, serve, workerStatus } from "../src/http/mod.ts";
import { shared } from "../src/shared.ts";
import { handleShutdownSignals } from "../src/signal.ts";

const app = new Router()
  .get("/pid", () => ({ worker: currentWorker()?.id ?? 0, pid: Deno.pid }))
  .get("/spin", () => {
    for (;;) { /* never yields: only ending the process stops it */ }
  })
  .get("/status", async () => ({ workers: await workerStatus() }))
  .get("/count", async () => ({ count: await shared().incr("count") }));

export default app;

if (import.meta.main) {
  const smoke = Deno.args.includes("--smoke");
  const server = await serve({
    workers: 2,
    isolation: "process",
    requestTimeLimit: 2000,
    host: "127.0.0.1",
    port: 18083,
    module: import.meta.url,
  });
  handleShutdownSignals({ timeout: 5000 });
  console.log(`listening on http://127.0.0.1:18083 (supervisor pid ${Deno.pid}; SIGHUP restarts)`);
  if (smoke) {
    try {
      await check();
      console.log("smoke check ok: pid, count, spin (worker replaced) and status");
    } finally {
      await server.shutdown({ timeout: 2000 });
    }
  }
}

async function get(path: string, timeout = 5000): Promise<any> {
  return (await request(path, timeout)).body;
}

async function request(path: string, timeout = 5000): Promise<{ status: number; body: any }> {
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  try {
    const res = await fetch(`http://127.0.0.1:18083${path}`, {
      client,
      signal: AbortSignal.timeout(timeout),
    });
    return { status: res.status, body: await res.json() };
  } finally {
    client.close();
  }
}

async function check(): Promise<void> {
  const fail = (what: string): never => {
    throw new Error(`smoke check failed: ${what}`);
  };
  const seen = new Map<number, number>();
  for (let i = 0; i < 40 && seen.size < 2; i++) {
    const { worker, pid } = await get("/pid");
    seen.set(pid, worker);
  }
  if (seen.size !== 2) fail(`both workers answer (saw ${[...seen.values()]})`);
  const a = (await get("/count")).count, b = (await get("/count")).count;
  if (b !== a + 1) fail(`the shared counter counts (${a}, ${b})`);
  const started = Date.now();
  // With --allow-ffi the supervisor answers the request its ended worker held.
  const spun = await request("/spin", 8000).then((r) => r.status, () => "closed");
  if (spun !== 503 && spun !== "closed") fail(`/spin ends its worker (got ${spun})`);
  // Its worker is ended after 2 s and replaced.
  let workers: { pid: number; state: string }[] = [];
  for (let i = 0; i < 100; i++) {
    workers = (await get("/status")).workers;
    const fresh = workers.filter((w) => !seen.has(w.pid) && w.state === "listening");
    if (workers.length === 2 && fresh.length === 1) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const fresh = workers.filter((w) => !seen.has(w.pid));
  if (fresh.length !== 1) fail(`a replacement worker (status: ${JSON.stringify(workers)})`);
  console.log(`the spinning worker was replaced ${Date.now() - started} ms after /spin`);
  const c = (await get("/count")).count;
  if (c !== b + 1) fail("the counter survives the worker");
}

/**
 * The shared dictionary against its natural alternatives, measured from
 * the same workers of one `serve({ workers: 2 })` server: lunet/shared
 * `get`/`incr`, a `BroadcastChannel` request/reply to the supervising
 * thread (thread workers only: the channel does not cross processes), and
 * a Redis `GET`/`INCR` (node-redis, `npm:redis`, on 127.0.0.1:6379). Each
 * figure is one worker's sequential round trips per second (each
 * operation awaited before the next), the median of both workers over
 * `--rounds` runs.
 *
 * Run: deno run -A bench/shared_load.ts [--ops=20000] [--rounds=3] [--redis=redis://127.0.0.1:6379]
 * With `--smoke`: 2,000 operations, one round.
 */
import { currentWorker, type HttpRequest, serve } from "../src/http/mod.ts";
import { shared } from "../src/shared.ts";

const arg = (name: string, fallback: string) =>
  Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback;
const REDIS = Deno.env.get("LUNET_BENCH_REDIS") ?? "redis://127.0.0.1:6379";

// deno-lint-ignore no-explicit-any
let redis: Promise<any> | undefined;
function redisClient() {
  return redis ??= (async () => {
    const { createClient } = await import("npm:redis@^5");
    const client = createClient({ url: REDIS });
    await client.connect();
    return client;
  })();
}

async function bcRoundTrip(n: number): Promise<void> {
  const id = currentWorker()?.id ?? 0;
  const req = new BroadcastChannel("lunet-bench-req");
  const rep = new BroadcastChannel(`lunet-bench-rep-${id}`);
  try {
    for (let i = 0; i < n; i++) {
      const answered = new Promise((resolve) => rep.onmessage = resolve);
      req.postMessage({ id, key: "k" });
      await answered;
    }
  } finally {
    req.close();
    rep.close();
  }
}

/** In each worker: `/<op>?n=` runs n sequential operations and says how fast. */
export default async function app(req: HttpRequest): Promise<unknown> {
  const n = Number(req.query.get("n") ?? 1000);
  const dict = shared();
  const op = req.path.slice(1);
  let run: () => Promise<unknown>;
  switch (op) {
    case "shared-get":
      await dict.set("k", "value");
      run = () => dict.get("k");
      break;
    case "shared-incr":
      run = () => dict.incr("n");
      break;
    case "redis-get": {
      const r = await redisClient();
      await r.set("lunet-bench:k", "value");
      run = () => r.get("lunet-bench:k");
      break;
    }
    case "redis-incr": {
      const r = await redisClient();
      run = () => r.incr("lunet-bench:n");
      break;
    }
    case "bc": {
      const start = performance.now();
      await bcRoundTrip(n);
      return { worker: currentWorker()?.id, perSecond: n / ((performance.now() - start) / 1000) };
    }
    default:
      return { error: `unknown op ${op}` };
  }
  for (let i = 0; i < Math.min(n, 1000); i++) await run(); // warm-up
  const start = performance.now();
  for (let i = 0; i < n; i++) await run();
  return { worker: currentWorker()?.id, perSecond: n / ((performance.now() - start) / 1000) };
}

if (import.meta.main) {
  const smoke = Deno.args.includes("--smoke");
  const ops = Number(arg("ops", smoke ? "2000" : "20000"));
  const rounds = Number(arg("rounds", smoke ? "1" : "3"));
  const rows: string[] = [];
  for (const isolation of ["thread", "process"] as const) {
    const server = await serve({
      workers: 2,
      port: 0,
      module: import.meta.url,
      isolation,
      shutdownOnSignal: false,
    });
    // The BroadcastChannel peer: the supervising thread answers each request.
    const req = new BroadcastChannel("lunet-bench-req");
    const replies = new Map<number, BroadcastChannel>();
    req.onmessage = (e) => {
      const id = e.data.id as number;
      let rep = replies.get(id);
      if (!rep) replies.set(id, rep = new BroadcastChannel(`lunet-bench-rep-${id}`));
      rep.postMessage("value");
    };
    const measured: Record<string, number> = {};
    try {
      const names = ["shared-get", "shared-incr", "redis-get", "redis-incr"];
      if (isolation === "thread") names.push("bc");
      for (const op of names) {
        const samples: number[] = [];
        for (let r = 0; r < rounds; r++) {
          // Both workers at once: two connections land on the two workers most of the time.
          const res = await Promise.all(
            [0, 1].map(() => get(server.addr.port!, `/${op}?n=${ops}`)),
          );
          for (const x of res) samples.push(x.perSecond);
        }
        samples.sort((a, b) => a - b);
        measured[op] = samples[samples.length >> 1];
      }
    } finally {
      req.close();
      for (const c of replies.values()) c.close();
      await server.shutdown({ timeout: 2000 });
    }
    const f = (n: number | undefined) =>
      n === undefined ? "—" : Math.round(n).toLocaleString("en-US");
    const x = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
    rows.push(
      `| ${isolation} | get | ${f(measured["shared-get"])} | ${f(measured["redis-get"])} | ${
        f(measured["bc"])
      } | ${x(measured["shared-get"], measured["redis-get"])} |`,
      `| ${isolation} | incr | ${f(measured["shared-incr"])} | ${f(measured["redis-incr"])} | — | ${
        x(measured["shared-incr"], measured["redis-incr"])
      } |`,
    );
  }
  console.log(
    `\n## Shared dictionary vs BroadcastChannel and Redis (${ops} ops per worker, ${rounds} rounds)\n`,
  );
  console.log(
    "| workers | op | lunet/shared ops/s | Redis ops/s | BroadcastChannel round trips/s | shared ÷ Redis |",
  );
  console.log(
    "| ------- | -- | -----------------: | ----------: | -----------------------------: | -------------: |",
  );
  for (const row of rows) console.log(row);
}

// A run whose connection was closed under it is measured again once, said
// on stderr: a benchmark figure, not a verdict on the server.
async function get(port: number, path: string): Promise<{ perSecond: number }> {
  try {
    return await getOnce(port, path);
  } catch (err) {
    console.error(`${path}: ${err instanceof Error ? err.message : err}; measuring again`);
    return await getOnce(port, path);
  }
}

async function getOnce(port: number, path: string): Promise<{ perSecond: number }> {
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { client });
    const body = await res.json();
    if (typeof body.perSecond !== "number") throw new Error(`${path}: ${JSON.stringify(body)}`);
    return body;
  } finally {
    client.close();
  }
}

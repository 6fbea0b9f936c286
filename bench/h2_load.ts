/**
 * HTTP/2 load: `h2load` against lunet/http (`http2: true`) and
 * `Deno.serve` over TLS, the same certificate and a "hello" handler, run
 * A B B A after a warm-up; then h2c (prior knowledge) against lunet
 * alone. Both servers run in this process, h2load in its own, so the
 * CPU time read from /proc/self/stat is the servers' alone.
 *
 *   deno run -A bench/h2_load.ts [--n=200000] [--c=50] [--m=10] [--smoke]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { serve } from "../src/http/mod.ts";
import { alternate, cpuNow, type Rate } from "./_rates.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    n: { type: "string", default: "200000" },
    c: { type: "string", default: "50" },
    m: { type: "string", default: "10" },
    smoke: { type: "boolean", default: false },
  },
});
const smoke = values.smoke!;
const n = smoke ? 5000 : Number(values.n);
const dir = new URL("../tests/fixtures/tls/", import.meta.url).pathname;
const cert = Deno.readTextFileSync(`${dir}leaf.pem`), key = Deno.readTextFileSync(`${dir}leaf.key`);

const lunet = await serve(() => "hello", {
  port: 0,
  cert,
  key,
  http2: true,
  shutdownOnSignal: false,
});
const lunetH2c = await serve(() => "hello", { port: 0, http2: "h2c", shutdownOnSignal: false });
const deno = Deno.serve(
  { port: 0, hostname: "127.0.0.1", cert, key, onListen: () => {} },
  () => new Response("hello"),
);

async function h2load(url: string): Promise<Rate> {
  const before = cpuNow();
  const out = await new Deno.Command("h2load", {
    args: ["-n", String(n), "-c", values.c!, "-m", values.m!, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const cpu = cpuNow() - before;
  const text = new TextDecoder().decode(out.stdout);
  const rps = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(text);
  const ok = /(\d+) succeeded/.exec(text);
  if (!rps || !ok || Number(ok[1]) !== n) throw new Error(`h2load ${url}:\n${text}`);
  return { qps: Number(rps[1]), cpu: cpu / n };
}

const lunetUrl = `https://127.0.0.1:${lunet.addr.port}/`;
const denoUrl = `https://127.0.0.1:${deno.addr.port}/`;
const [a, b] = await alternate(() => h2load(lunetUrl), () => h2load(denoUrl), "abba", smoke);
const c = await h2load(`http://127.0.0.1:${lunetH2c.addr.port}/`);
const fmt = (r: Rate) => `${Math.round(r.qps)} req/s, ${r.cpu.toFixed(1)} µs CPU/req`;
console.log(`h2load -n ${n} -c ${values.c} -m ${values.m}`);
console.log(`TLS  lunet/http  ${fmt(a)}`);
console.log(`TLS  Deno.serve  ${fmt(b)}`);
console.log(
  `TLS  ratio lunet/Deno: ${(a.qps / b.qps).toFixed(2)}x req/s, ${
    (a.cpu / b.cpu).toFixed(2)
  }x CPU/req`,
);
console.log(`h2c  lunet/http  ${fmt(c)}`);
await lunet.shutdown();
await lunetH2c.shutdown();
await deno.shutdown();

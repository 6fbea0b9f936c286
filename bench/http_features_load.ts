/**
 * lunet/http's HTTPS, compression and static files side by side with
 * their peers, in one run, driven by `wrk -t1 -c50` on 127.0.0.1 (each
 * server in its own process, one warm-up run, then A B B A against the
 * reference; `--smoke` runs each once for 1 s):
 *
 * - HTTPS hello keep-alive: lunet/http vs `Deno.serve`, same certificate.
 * - Static 4 KiB and 16 MiB files: lunet `serveDir` (ffi backend,
 *   sendfile; and the deno backend) vs `Deno.serve` + `Deno.open`
 *   streaming (what std's `serveDir` does) vs nginx (Debian) serving the
 *   same directory with sendfile on, one worker; req/s and MiB/s.
 * - JSON 64 KiB with zstd / br / gzip on vs off: req/s and bytes on the
 *   wire per response; and the CPU cost per KiB of each coding (one-shot,
 *   in-process) with the threshold where it pays on a link of a given
 *   speed.
 *
 *     deno run -A bench/http_features_load.ts [--smoke]
 *
 * @module
 */
import zlib from "node:zlib";

const SELF = new URL(import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;
const TLS = `${ROOT}tests/fixtures/tls/`;
const SMOKE = Deno.args.includes("--smoke");
const SECONDS = SMOKE ? 1 : 8;
const DIR = "/tmp/lunet-static-bench";

const DOC = JSON.stringify({
  rows: Array.from(
    { length: 1200 },
    (_, i) => ({ id: i, name: `user ${i}`, mail: `u${i}@example.com`, on: i % 2 === 0 }),
  ),
}).slice(0, 64 * 1024 - 2) + "]}";

async function server(role: string, port: number): Promise<void> {
  const cert = Deno.readTextFileSync(`${TLS}leaf.pem`),
    key = Deno.readTextFileSync(`${TLS}leaf.key`);
  const { serve, serveDir, respond } = await import("../src/http/mod.ts");
  const opts = { port, shutdownOnSignal: false } as const;
  if (role === "lunet-https") {
    await serve(() => ({ message: "Hello, World!" }), { ...opts, cert, key });
  } else if (role === "deno-https") {
    Deno.serve(
      { port, hostname: "127.0.0.1", cert, key, onListen() {} },
      () => Response.json({ message: "Hello, World!" }),
    );
  } else if (role === "lunet-static") await serve(serveDir(DIR), { ...opts, compress: false });
  else if (role === "deno-static") {
    Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, async (req) => {
      const path = DIR + new URL(req.url).pathname;
      const file = await Deno.open(path);
      const { size } = await file.stat();
      return new Response(file.readable, {
        headers: { "content-length": String(size), "content-type": "application/octet-stream" },
      });
    });
  } else if (role.startsWith("lunet-json")) {
    const coding = role.slice("lunet-json-".length);
    const body = () => respond(DOC, { headers: { "content-type": "application/json" } });
    await serve(body, {
      ...opts,
      compress: coding === "off" ? false : { encodings: [coding as "gzip"] },
    });
  }
  console.log("listening");
}

interface Result {
  rps: number;
  mibps: number;
}

async function wrk(url: string, headers: string[] = []): Promise<Result> {
  const args = ["-t1", "-c50", `-d${SECONDS}s`, ...headers.flatMap((h) => ["-H", h]), url];
  const out = new TextDecoder().decode((await new Deno.Command("wrk", { args }).output()).stdout);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const m = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(out);
  const unit = m?.[2] ?? "MB";
  const scale = unit === "GB" ? 1024 : unit === "MB" ? 1 : unit === "KB" ? 1 / 1024 : 1 / 1048576;
  return { rps, mibps: Number(m?.[1] ?? 0) * scale };
}

async function start(
  role: string,
  port: number,
  env: Record<string, string> = {},
): Promise<Deno.ChildProcess> {
  if (role === "nginx") {
    const conf = `${DIR}-nginx.conf`;
    await Deno.writeTextFile(
      conf,
      `worker_processes 1; daemon off; pid ${DIR}-nginx.pid; error_log /dev/null;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  server { listen 127.0.0.1:${port}; root ${DIR}; location / { } } }`,
    );
    const proc = new Deno.Command("nginx", { args: ["-c", conf], stdout: "null", stderr: "null" })
      .spawn();
    for (let i = 0; i < 50; i++) {
      try {
        (await Deno.connect({ port })).close();
        return proc;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error("nginx did not start");
  }
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", `${ROOT}deno.json`, SELF, "--serve", role, String(port)],
    env,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("listening")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${role} exited`);
    seen += value;
  }
  reader.cancel();
  return proc;
}

async function stop(proc: Deno.ChildProcess): Promise<void> {
  proc.kill("SIGTERM");
  await proc.status;
}

// Runs each peer on the same URL path, A B B A against the first.
async function compare(
  title: string,
  peers: { name: string; role: string; env?: Record<string, string>; scheme?: string }[],
  path: string,
  headers: string[] = [],
): Promise<void> {
  const results = new Map<string, Result[]>();
  const procs: Deno.ChildProcess[] = [];
  const urls = new Map<string, string>();
  let port = 19100;
  for (const p of peers) {
    const proc = await start(p.role, ++port, p.env);
    procs.push(proc);
    urls.set(p.name, `${p.scheme ?? "http"}://127.0.0.1:${port}${path}`);
    if (!SMOKE) await wrk(urls.get(p.name)!, headers); // warm-up
  }
  try {
    const order = SMOKE ? peers : [...peers, ...peers.slice().reverse()];
    for (const p of order) {
      const r = await wrk(urls.get(p.name)!, headers);
      (results.get(p.name) ?? results.set(p.name, []).get(p.name)!).push(r);
    }
  } finally {
    for (const proc of procs) await stop(proc);
  }
  const mean = (rs: Result[], k: keyof Result) => rs.reduce((a, r) => a + r[k], 0) / rs.length;
  const ref = mean(results.get(peers[0].name)!, "rps");
  console.log(
    `\n### ${title}\n\n| server | req/s | MiB/s | vs ${peers[0].name} |\n|---|---:|---:|---:|`,
  );
  for (const p of peers) {
    const rs = results.get(p.name)!;
    console.log(
      `| ${p.name} | ${mean(rs, "rps").toFixed(0)} | ${mean(rs, "mibps").toFixed(1)} | ${
        (mean(rs, "rps") / ref).toFixed(2)
      }× |`,
    );
  }
}

async function wireBytes(url: string, accept: string): Promise<number> {
  const out = await new Deno.Command("curl", {
    args: [
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{size_download}",
      "-H",
      `accept-encoding: ${accept}`,
      url,
    ],
  }).output();
  return Number(new TextDecoder().decode(out.stdout));
}

function cpuPerKiB(): void {
  const data = new TextEncoder().encode(DOC);
  const codings: [string, (b: Uint8Array) => Uint8Array][] = [
    ["gzip (level 6)", (b) => zlib.gzipSync(b, { level: 6 })],
    ["br (quality 4)", (b) =>
      zlib.brotliCompressSync(b, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: 4,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length,
        },
      })],
    ["zstd (level 3)", (b) => zlib.zstdCompressSync(b)],
  ];
  console.log("\n### CPU per KiB (64 KiB JSON, one-shot, this process)\n");
  console.log(
    "| coding | µs per KiB | bytes out | ratio | pays off below (link speed) |\n|---|---:|---:|---:|---:|",
  );
  for (const [name, f] of codings) {
    let out = f(data);
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < (SMOKE ? 100 : 1000)) {
      out = f(data);
      n++;
    }
    const usPerKiB = ((performance.now() - t0) * 1000 / n) / (data.length / 1024);
    // Compressing pays when the time saved on the wire exceeds the CPU
    // time: saved bytes / link speed > CPU time.
    const saved = data.length - out.length;
    const cpuS = usPerKiB * (data.length / 1024) / 1e6;
    const breakEven = saved / cpuS / 1048576; // MiB/s
    console.log(
      `| ${name} | ${usPerKiB.toFixed(1)} | ${out.length} | ${
        (data.length / out.length).toFixed(1)
      }× | ${breakEven.toFixed(0)} MiB/s |`,
    );
  }
}

async function main(): Promise<void> {
  await Deno.mkdir(DIR, { recursive: true });
  const four = new Uint8Array(4096);
  crypto.getRandomValues(four);
  await Deno.writeFile(`${DIR}/4k.bin`, four);
  const sixteen = new Uint8Array(16 * 1024 * 1024);
  for (let o = 0; o < sixteen.length; o += 65536) {
    crypto.getRandomValues(sixteen.subarray(o, o + 65536));
  }
  await Deno.writeFile(`${DIR}/16m.bin`, sixteen);
  let hasNginx = true;
  try {
    await new Deno.Command("nginx", { args: ["-v"], stderr: "null" }).output();
  } catch {
    hasNginx = false;
  }
  console.log(
    `deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, wrk -t1 -c50 -d${SECONDS}s`,
  );

  await compare("HTTPS hello keep-alive", [
    { name: "Deno.serve", role: "deno-https", scheme: "https" },
    { name: "lunet/http", role: "lunet-https", scheme: "https" },
  ], "/");

  const staticPeers = [
    { name: "Deno.serve + Deno.open", role: "deno-static" },
    { name: "lunet serveDir (ffi, sendfile)", role: "lunet-static" },
    { name: "lunet serveDir (deno backend)", role: "lunet-static", env: { LUNET_BACKEND: "deno" } },
    ...(hasNginx ? [{ name: "nginx (1 worker, sendfile)", role: "nginx" }] : []),
  ];
  await compare("Static 4 KiB file", staticPeers, "/4k.bin");
  await compare("Static 16 MiB file", staticPeers, "/16m.bin");

  const jsonPeers = ["off", "zstd", "br", "gzip"].map((c) => ({
    name: `compress ${c}`,
    role: `lunet-json-${c}`,
  }));
  await compare("JSON 64 KiB, Accept-Encoding: zstd, br, gzip", jsonPeers, "/", [
    "accept-encoding: zstd, br, gzip",
  ]);
  console.log("\n| coding | bytes on the wire per response |\n|---|---:|");
  let port = 19200;
  for (const c of ["off", "zstd", "br", "gzip"]) {
    const proc = await start(`lunet-json-${c}`, ++port);
    console.log(`| ${c} | ${await wireBytes(`http://127.0.0.1:${port}/`, "zstd, br, gzip")} |`);
    await stop(proc);
  }
  cpuPerKiB();
  await Deno.remove(DIR, { recursive: true });
  await Deno.remove(`${DIR}-nginx.conf`).catch(() => {});
}

if (Deno.args[0] === "--serve") await server(Deno.args[1], Number(Deno.args[2]));
else await main();

/**
 * lunet/http side by side with its peers, in one run, driven by `wrk`
 * (`wrk -t1 -c50 -d10s` on 127.0.0.1; `--smoke` runs 1 s each):
 *
 * - Hello-JSON with keep-alive: lunet/http (ffi and deno backends) vs
 *   `Deno.serve` vs `node:http` vs a raw `Deno.Conn` loop that only looks
 *   for `\r\n\r\n` and writes a canned response.
 * - The same with `Connection: close`.
 *
 * Every server runs in its own process. Each is warmed up first, then the
 * runs alternate A B B A against `Deno.serve` (the reference), and the
 * table gives the mean req/s, the ratio to `Deno.serve`, and the peak RSS
 * of the server process (VmHWM).
 *
 *     deno run -A bench/http_load.ts [--smoke]
 *
 * @module
 */
const args = new Set(Deno.args);
const smoke = args.has("--smoke");
const role = Deno.args.find((a) => a.startsWith("--role="))?.slice(7);
const BODY = JSON.stringify({ message: "Hello, World!" });

if (role) await runServer(role, Number(Deno.args.find((a) => a.startsWith("--port="))!.slice(7)));
else await main();

async function runServer(kind: string, port: number): Promise<void> {
  if (kind === "lunet") {
    const { json, serve } = await import("../src/http/mod.ts");
    await serve(() => json({ message: "Hello, World!" }), { port });
  } else if (kind === "deno") {
    Deno.serve(
      { port, hostname: "127.0.0.1", onListen() {} },
      () => Response.json({ message: "Hello, World!" }),
    );
  } else if (kind === "node") {
    const http = await import("node:http");
    http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": BODY.length });
      res.end(BODY);
    }).listen(port, "127.0.0.1");
  } else if (kind === "raw") {
    const head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: " +
      BODY.length;
    const keep = new TextEncoder().encode(head + "\r\n\r\n" + BODY);
    const close = new TextEncoder().encode(head + "\r\nconnection: close\r\n\r\n" + BODY);
    const listener = Deno.listen({ hostname: "127.0.0.1", port });
    console.log("ready");
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(4096);
        let seen = "";
        try {
          for (let n; (n = await conn.read(buf)) !== null;) {
            seen += new TextDecoder().decode(buf.subarray(0, n));
            while (seen.includes("\r\n\r\n")) {
              const end = seen.indexOf("\r\n\r\n");
              const wantsClose = /connection: close/i.test(seen.slice(0, end));
              seen = seen.slice(end + 4);
              await conn.write(wantsClose ? close : keep);
              if (wantsClose) throw 0;
            }
          }
        } catch { /* done */ }
        try {
          conn.close();
        } catch { /* closed */ }
      })();
    }
    return;
  }
  console.log("ready");
}

interface Peer {
  name: string;
  kind: string;
  env?: Record<string, string>;
  port: number;
  proc?: Deno.ChildProcess;
}

async function start(peer: Peer): Promise<void> {
  peer.proc = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      `--role=${peer.kind}`,
      `--port=${peer.port}`,
    ],
    env: peer.env,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = peer.proc.stdout.getReader();
  const { value } = await reader.read();
  if (!new TextDecoder().decode(value).includes("ready")) {
    throw new Error(`${peer.name} did not start`);
  }
  reader.releaseLock();
  peer.proc.stdout.cancel();
}

function peakRss(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function wrk(port: number, seconds: number, close: boolean): Promise<number> {
  const wrkArgs = ["-t1", "-c50", `-d${seconds}s`];
  if (close) wrkArgs.push("-H", "Connection: close");
  const out = await new Deno.Command("wrk", {
    args: [...wrkArgs, `http://127.0.0.1:${port}/`],
    stdout: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (!m) throw new Error(`wrk failed: ${text}`);
  return Number(m[1]);
}

async function main(): Promise<void> {
  const seconds = smoke ? 1 : 10;
  const peers: Peer[] = [
    { name: "lunet/http (ffi backend)", kind: "lunet", env: { LUNET_BACKEND: "ffi" }, port: 18201 },
    {
      name: "lunet/http (deno backend)",
      kind: "lunet",
      env: { LUNET_BACKEND: "deno" },
      port: 18202,
    },
    { name: "Deno.serve", kind: "deno", port: 18203 },
    { name: "node:http", kind: "node", port: 18204 },
    { name: "raw Deno.Conn loop", kind: "raw", port: 18205 },
  ];
  const ref = peers[2];
  for (const p of peers) await start(p);
  try {
    console.log(`# lunet/http vs peers${smoke ? " (smoke)" : ""}: wrk -t1 -c50 -d${seconds}s\n`);
    for (const close of [false, true]) {
      const w = smoke ? 1 : 3;
      for (const p of peers) await wrk(p.port, w, close); // warm up
      const rows: [string, number][] = [];
      let refSum = 0, refRuns = 0;
      for (const p of peers) {
        if (p === ref) continue;
        // A B B A against the reference.
        const a1 = await wrk(ref.port, seconds, close);
        const b1 = await wrk(p.port, seconds, close);
        const b2 = await wrk(p.port, seconds, close);
        const a2 = await wrk(ref.port, seconds, close);
        rows.push([p.name, (b1 + b2) / 2, (b1 + b2) / (a1 + a2)] as unknown as [string, number]);
        refSum += a1 + a2;
        refRuns += 2;
      }
      console.log(`## Hello JSON, ${close ? "Connection: close" : "keep-alive"}\n`);
      console.log("| server | req/s | × Deno.serve (same A B B A block) | peak RSS MiB |");
      console.log("|---|---:|---:|---:|");
      console.log(
        `| ${ref.name} | ${(refSum / refRuns).toFixed(0)} | 1.00 | ${
          peakRss(ref.proc!.pid).toFixed(0)
        } |`,
      );
      for (const [name, rps, ratio] of rows as unknown as [string, number, number][]) {
        const p = peers.find((x) => x.name === name)!;
        console.log(
          `| ${name} | ${rps.toFixed(0)} | ${ratio.toFixed(2)} | ${
            peakRss(p.proc!.pid).toFixed(0)
          } |`,
        );
      }
      console.log();
    }
  } finally {
    for (const p of peers) {
      p.proc!.kill("SIGKILL");
      await p.proc!.status;
    }
  }
}

/**
 * lunet/http side by side with its peers, in one run, driven by `wrk`
 * (`wrk -t1 -c50 -d10s` on 127.0.0.1; `--smoke` runs each server once for
 * 1 s, without warm-up or A B B A):
 *
 * - Hello-JSON with keep-alive: lunet/http (ffi and deno backends) vs
 *   `Deno.serve` vs `node:http` vs a raw `Deno.Conn` loop that only looks
 *   for `\r\n\r\n` and writes a canned response, and the same on a bare
 *   FFI epoll loop (the floor of any FFI server: the kernel's share).
 * - The same with `Connection: close`.
 * - Two workers: `serve({ workers: 2 })` (both backends) vs
 *   `deno serve --parallel` with `DENO_JOBS=2`, keep-alive.
 *
 * Every server runs in its own process. Each is warmed up first, then the
 * runs alternate A B B A against the reference (`Deno.serve`, or
 * `deno serve --parallel` for workers), and the tables give the mean
 * req/s, the ratio to the reference measured in the same A B B A block,
 * and the peak RSS of the server process (VmHWM) over the whole run.
 *
 *     deno run -A bench/http_load.ts [--smoke]
 *
 * The worker peers serve bench/http_app.ts.
 *
 * @module
 */
const MESSAGE = { message: "Hello, World!" };

interface Peer {
  name: string;
  role: string;
  env?: Record<string, string>;
  port: number;
  proc?: Deno.ChildProcess;
}

const SELF = new URL(import.meta.url).pathname;
const APP = new URL("./http_app.ts", import.meta.url);

async function runServer(role: string, port: number): Promise<void> {
  if (role === "lunet") {
    const { json, serve } = await import("../src/http/mod.ts");
    await serve(() => json(MESSAGE), { port });
  } else if (role === "lunet-workers") {
    const { serve } = await import("../src/http/mod.ts");
    await serve({ workers: 2, port, module: APP });
  } else if (role === "deno") {
    Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, () => Response.json(MESSAGE));
  } else if (role === "node") {
    const http = await import("node:http");
    const body = JSON.stringify(MESSAGE);
    http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
      res.end(body);
    }).listen(port, "127.0.0.1");
  } else if (role === "raw") {
    serveRaw(port);
  } else if (role === "raw-ffi") {
    serveRawFfi(port);
  } else throw new Error(`unknown role ${role}`);
}

function serveRaw(port: number): void {
  const body = JSON.stringify(MESSAGE);
  const head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: " +
    body.length;
  const keep = new TextEncoder().encode(head + "\r\n\r\n" + body);
  const close = new TextEncoder().encode(head + "\r\nconnection: close\r\n\r\n" + body);
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  (async () => {
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
  })();
}

/**
 * The floor of an FFI server: one edge-triggered epoll loop over libc
 * sockets that counts request heads and writes a canned response for
 * each, polling between macrotasks and parking on the thread pool when
 * idle, like the FFI backend. No parsing, tasks, promises per request.
 */
async function serveRawFfi(port: number): Promise<void> {
  const ffi = await import("../src/_backend/ffi/libc.ts");
  const { encodeAddr } = await import("../src/_backend/ffi/sockaddr.ts");
  const { setImmediate } = await import("node:timers");
  const c = ffi.libc();
  const body = JSON.stringify(MESSAGE);
  const head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: " +
    body.length;
  const keep = new TextEncoder().encode(head + "\r\n\r\n" + body);
  const close = new TextEncoder().encode(head + "\r\nconnection: close\r\n\r\n" + body);
  const fd = c.socket(ffi.AF_INET, ffi.SOCK_STREAM | ffi.SOCK_NONBLOCK, 0);
  c.setsockopt(fd, ffi.SOL_SOCKET, ffi.SO_REUSEADDR, new Int32Array([1]), 4);
  const { bytes: addr } = encodeAddr({ transport: "tcp", hostname: "127.0.0.1", port });
  c.bind(fd, addr, addr.length);
  c.listen(fd, 1024);
  const ep = c.epoll_create1(0);
  const ev = new Uint8Array(ffi.EPOLL_EVENT_SIZE);
  const evView = new DataView(ev.buffer);
  const add = (f: number) => {
    evView.setUint32(0, ffi.EPOLLIN | ffi.EPOLLET, true);
    evView.setUint32(ffi.EPOLL_DATA_OFFSET, f, true);
    c.epoll_ctl(ep, ffi.EPOLL_CTL_ADD, f, ev);
  };
  add(fd);
  const events = new Uint8Array(256 * ffi.EPOLL_EVENT_SIZE);
  const view = new DataView(events.buffer);
  const buf = new Uint8Array(64 * 1024);
  const text = new TextDecoder();
  const serve = (f: number) => {
    for (;;) {
      const n = c.read(f, buf, BigInt(buf.length));
      if (n <= 0) {
        if (n === 0) c.close(f);
        return;
      }
      // Each request head ends with CRLF CRLF; the last may ask to close.
      let heads = 0;
      for (let i = 3; i < n; i++) if (buf[i] === 10 && buf[i - 2] === 10) heads++;
      const last = heads > 0 && /connection: close/i.test(text.decode(buf.subarray(0, n)));
      for (let k = 0; k < heads; k++) {
        const res = last && k === heads - 1 ? close : keep;
        c.send(f, res, BigInt(res.length), ffi.MSG_NOSIGNAL);
      }
      if (last) return void c.close(f);
    }
  };
  for (;;) {
    let n = c.epoll_wait(ep, events, 256, 0);
    if (n === 0) n = await c.epoll_wait_blocking(ep, events, 256, -1);
    for (let i = 0; i < n; i++) {
      const f = view.getUint32(i * ffi.EPOLL_EVENT_SIZE + ffi.EPOLL_DATA_OFFSET, true);
      if (f !== fd) serve(f);
      else for (let a; (a = c.accept4(fd, null, null, ffi.SOCK_NONBLOCK)) >= 0;) add(a);
    }
    await new Promise((r) => setImmediate(r));
  }
}

async function start(peer: Peer): Promise<void> {
  const args = peer.role === "deno-parallel"
    ? [
      "serve",
      "-A",
      "--parallel",
      "--host",
      "127.0.0.1",
      "--port",
      String(peer.port),
      APP.pathname,
    ]
    : ["run", "-A", SELF, `--role=${peer.role}`, `--port=${peer.port}`];
  peer.proc = new Deno.Command(Deno.execPath(), {
    args,
    env: peer.env,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  // Ready once the port takes connections.
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port: peer.port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${peer.name} did not start`);
}

function peakRss(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function wrk(port: number, seconds: number, close: boolean): Promise<number> {
  const args = ["-t1", "-c50", `-d${seconds}s`];
  if (close) args.push("-H", "Connection: close");
  const out = await new Deno.Command("wrk", {
    args: [...args, `http://127.0.0.1:${port}/`],
    stdout: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (!m) throw new Error(`wrk failed: ${text}`);
  if (/Non-2xx|Socket errors/.test(text) && !close) console.error(`wrk on ${port}: ${text}`);
  return Number(m[1]);
}

/**
 * Warm-up, then A B B A blocks of each peer against `ref`; prints a table.
 * A smoke run measures each server once, with no warm-up.
 */
async function compare(
  title: string,
  ref: Peer,
  others: Peer[],
  seconds: number,
  close: boolean,
  smoke: boolean,
): Promise<void> {
  const rows: { peer: Peer; rps: number; ratio: number }[] = [];
  let refSum = 0;
  if (smoke) {
    // One short run each: checks that every server answers, measures little.
    const a = await wrk(ref.port, seconds, close);
    for (const p of others) {
      const b = await wrk(p.port, seconds, close);
      rows.push({ peer: p, rps: b, ratio: b / a });
    }
    refSum = a * 2 * others.length;
  }
  if (!smoke) { for (const p of [ref, ...others]) await wrk(p.port, 3, close); }
  for (const p of smoke ? [] : others) {
    const a1 = await wrk(ref.port, seconds, close);
    const b1 = await wrk(p.port, seconds, close);
    const b2 = await wrk(p.port, seconds, close);
    const a2 = await wrk(ref.port, seconds, close);
    rows.push({ peer: p, rps: (b1 + b2) / 2, ratio: (b1 + b2) / (a1 + a2) });
    refSum += a1 + a2;
  }
  rows.unshift({ peer: ref, rps: refSum / (2 * others.length), ratio: 1 });
  console.log(`## ${title}\n`);
  const block = smoke ? "same run" : "same A B B A block";
  console.log(`| server | req/s | × ${ref.name} (${block}) | peak RSS MiB |`);
  console.log("|---|---:|---:|---:|");
  for (const { peer, rps, ratio } of rows) {
    console.log(
      `| ${peer.name} | ${rps.toFixed(0)} | ${ratio.toFixed(2)} | ${
        peakRss(peer.proc!.pid).toFixed(0)
      } |`,
    );
  }
  console.log();
}

async function main(smoke: boolean): Promise<void> {
  const seconds = smoke ? 1 : 10;
  const single: Peer[] = [
    { name: "Deno.serve", role: "deno", port: 18203 },
    { name: "lunet/http (ffi backend)", role: "lunet", env: { LUNET_BACKEND: "ffi" }, port: 18201 },
    {
      name: "lunet/http (deno backend)",
      role: "lunet",
      env: { LUNET_BACKEND: "deno" },
      port: 18202,
    },
    { name: "node:http", role: "node", port: 18204 },
    { name: "raw Deno.Conn loop", role: "raw", port: 18205 },
    { name: "raw FFI epoll loop", role: "raw-ffi", port: 18209 },
  ];
  const parallel: Peer[] = [
    {
      name: "deno serve --parallel (2)",
      role: "deno-parallel",
      env: { DENO_JOBS: "2" },
      port: 18206,
    },
    {
      name: "lunet/http 2 workers (ffi backend)",
      role: "lunet-workers",
      env: { LUNET_BACKEND: "ffi" },
      port: 18207,
    },
    {
      name: "lunet/http 2 workers (deno backend)",
      role: "lunet-workers",
      env: { LUNET_BACKEND: "deno" },
      port: 18208,
    },
  ];
  const all = [...single, ...parallel];
  try {
    await Promise.all(all.map(start));
    console.log(`# lunet/http vs peers${smoke ? " (smoke)" : ""}: wrk -t1 -c50 -d${seconds}s\n`);
    const [ref, ...others] = single;
    await compare("Hello JSON, keep-alive", ref, others, seconds, false, smoke);
    await compare("Hello JSON, Connection: close", ref, others, seconds, true, smoke);
    const [pref, ...pothers] = parallel;
    await compare("Hello JSON, keep-alive, 2 workers", pref, pothers, seconds, false, smoke);
  } finally {
    for (const p of all) {
      if (!p.proc) continue;
      p.proc.kill("SIGKILL");
      await p.proc.status;
    }
  }
}

const role = Deno.args.find((a) => a.startsWith("--role="))?.slice(7);
if (role) await runServer(role, Number(Deno.args.find((a) => a.startsWith("--port="))!.slice(7)));
else await main(Deno.args.includes("--smoke"));

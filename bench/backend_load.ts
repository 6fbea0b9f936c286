/**
 * Socket backends side by side, in one run: the `ffi` backend (libc +
 * epoll through Deno.dlopen) against the `deno` backend (Deno.Conn).
 *
 * 1. TCP echo through lunet/socket: 64 KiB chunks (MiB/s) and 64-byte
 *    ping-pong (round trips/s), client and server in this process.
 * 2. Idle connections: RSS per connection of a server process holding
 *    10,000 connections, each with a read waiting; once with V8's default
 *    heap sizing, where the young generation grows during the accept burst
 *    (up to 16 MiB, a fixed cost that shows as ≈ 1 KiB per connection at
 *    10,000), and once with it held at 1 MiB, which leaves what each
 *    connection itself holds.
 * 3. Hello-JSON keep-alive, `wrk -t1 -c50`: lunet/http on each backend and
 *    `Deno.serve`, each server in its own process.
 *
 * Prints markdown tables with ratios. `--smoke` runs every part briefly.
 *
 *     deno run -A bench/backend_load.ts [--smoke]
 *
 * @module
 */
import { sleep, spawn } from "../mod.ts";
import { selectBackend } from "../src/_backend/select.ts";
import type { StreamHandle } from "../src/_backend/types.ts";
import { connect, listen } from "../src/socket.ts";
import { newConn } from "../src/_conn.ts";
import { scratchOf } from "../src/_read_scratch.ts";
import { serveEcho } from "../tests/net_helpers.ts";

type BackendName = "ffi" | "deno";
const BACKENDS: BackendName[] = ["ffi", "deno"];
const args = new Map(Deno.args.map((a) => a.replace(/^--/, "").split("=") as [string, string]));
const smoke = args.has("smoke");

if (args.get("role") === "idle") await idleServer(Number(args.get("conns")), args.get("layer")!);
else if (args.get("role") === "http") await httpServer(args.get("server")!);
else await main();

async function main(): Promise<void> {
  const seconds = smoke ? 0.5 : 3;
  const rounds = smoke ? 1 : 3;
  console.log(`# Socket backends: ffi vs deno${smoke ? " (smoke)" : ""}\n`);
  console.log(`Best of ${rounds} alternating runs per cell.\n`);
  console.log("| measurement | ffi | deno | ffi / deno |\n|---|---:|---:|---:|");
  const rows: [string, (b: BackendName) => Promise<number>][] = [
    ["TCP echo, 64 KiB chunks, 4 conns (MiB/s)", (b) => echo(b, 4, 64 * 1024, seconds)],
    ["TCP echo, 64 B ping-pong, 8 conns (round trips/s)", (b) => echo(b, 8, 64, seconds)],
  ];
  for (const [name, run] of rows) {
    const best = await bestOf(rounds, run, Math.max);
    console.log(
      `| ${name} | ${fmt(best.ffi)} | ${fmt(best.deno)} | ${ratio(best.ffi, best.deno)} |`,
    );
  }
  const conns = smoke ? 500 : 10_000;
  // The young generation's size limit in MiB; 0 keeps V8's default.
  for (const young of [0, 1]) {
    for (const layer of ["socket", "backend"]) {
      const rss = await bestOf(rounds, (b) => idleRss(b, conns, layer, young), Math.min);
      const note = young ? `, young generation held at ${young} MiB` : "";
      console.log(
        `| idle RSS per connection, ${fmt(conns)} conns, ${layer} layer${note} (KiB) | ` +
          `${rss.ffi.toFixed(2)} | ${rss.deno.toFixed(2)} | ${ratio(rss.ffi, rss.deno)} |`,
      );
    }
  }
  await httpTable(smoke ? 1 : 5, rounds);
}

// Runs each backend `rounds` times, alternating, and keeps the best figure.
async function bestOf(
  rounds: number,
  run: (b: BackendName) => Promise<number>,
  pick: (a: number, b: number) => number,
): Promise<Record<BackendName, number>> {
  const best: Record<BackendName, number> = { ffi: NaN, deno: NaN };
  for (let i = 0; i < rounds; i++) {
    for (const b of BACKENDS) {
      const v = await run(b);
      best[b] = Number.isNaN(best[b]) ? v : pick(best[b], v);
    }
  }
  return best;
}

function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}×`;
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(1);
}

// Runs `conns` clients that each write `size` bytes and read them back, for
// `seconds`; returns MiB/s for large sizes and round trips/s for small ones.
async function echo(
  backend: BackendName,
  conns: number,
  size: number,
  seconds: number,
): Promise<number> {
  const l = await listen("tcp", "127.0.0.1", 0, { backend });
  const server = serveEcho(l);
  const payload = new Uint8Array(size).fill(7);
  const until = performance.now() + seconds * 1000;
  let trips = 0;
  const clients = Array.from({ length: conns }, () =>
    spawn(async () => {
      const c = await connect("127.0.0.1", l.addr.port, { backend });
      c.setNoDelay(true);
      while (performance.now() < until) {
        await c.write(payload);
        for (let got = 0; got < size;) got += (await c.read())!.length;
        trips++;
      }
      c.close();
    }));
  const start = performance.now();
  for (const c of clients) await c;
  const elapsed = (performance.now() - start) / 1000;
  l.close();
  await server;
  return size >= 1024 ? trips * size / (1 << 20) / elapsed : trips / elapsed;
}

function child(
  flags: string[],
  role: string[],
  env: Record<string, string>,
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...flags, import.meta.filename!, ...role],
    env,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

// Reads the child's stdout line by line.
async function* lines(proc: Deno.ChildProcess): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let i;
    while ((i = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, i);
      rest = rest.slice(i + 1);
    }
  }
}

// KiB of server RSS per idle connection, each with a read waiting: a
// lunet/socket `Conn.read()` ("socket" layer), or the backend handle's own
// wait ("backend" layer: a readiness callback where the backend has one,
// else a 1 KiB `read`).
async function idleRss(
  backend: BackendName,
  conns: number,
  layer: string,
  young: number,
): Promise<number> {
  const role = [`--role=idle`, `--conns=${conns}`, `--layer=${layer}`];
  const v8 = young ? `--expose-gc,--max-semi-space-size=${young}` : "--expose-gc";
  const proc = child([`--v8-flags=${v8}`], role, {
    LUNET_BACKEND: backend,
  });
  const out = lines(proc);
  const port = Number((await out.next()).value);
  const clients: Deno.TcpConn[] = [];
  for (let i = 0; i < conns; i += 100) {
    const batch = Math.min(100, conns - i);
    clients.push(
      ...await Promise.all(
        Array.from({ length: batch }, () => Deno.connect({ hostname: "127.0.0.1", port })),
      ),
    );
  }
  const [before, after] = JSON.parse((await out.next()).value as string) as number[];
  for await (const _ of out);
  await proc.status;
  for (const c of clients) c.close();
  return (after - before) / 1024 / conns;
}

async function idleServer(conns: number, layer: string): Promise<void> {
  const gc = (globalThis as unknown as { gc: () => void }).gc;
  const rss = async () => {
    await sleep(200);
    gc();
    await sleep(50);
    return Deno.memoryUsage().rss;
  };
  const backend = selectBackend();
  const l = await backend.listen({
    addr: { transport: "tcp", hostname: "127.0.0.1", port: 0 },
    backlog: 1024,
  });
  // One shared no-op, so the figure holds no closure of the benchmark's own.
  const ignore = () => {};
  const wait = layer === "socket"
    ? (h: StreamHandle) => newConn(h, undefined, scratchOf(backend)).read().catch(ignore)
    : (h: StreamHandle) =>
      h.tryRead && h.onReadable && h.tryRead(new Uint8Array(1)) === -1
        ? h.onReadable(ignore)
        : h.read(new Uint8Array(1024)).catch(ignore);
  // Warm up the accept and read paths before the baseline.
  for (let i = 0; i < 10; i++) {
    const c = await backend.connect(l.addr);
    const s = await l.accept();
    wait(s);
    s.close();
    c.close();
  }
  const before = await rss();
  console.log(l.addr.port);
  const held = [];
  for (let i = 0; i < conns; i++) {
    const h = await l.accept();
    held.push(h);
    wait(h);
  }
  console.log(JSON.stringify([before, await rss()]));
  Deno.exit(0);
}

async function httpTable(seconds: number, rounds: number): Promise<void> {
  console.log(
    `\n## Hello-JSON keep-alive, wrk -t1 -c50 -d${seconds}s (best of ${rounds})\n\n` +
      "| server | req/s | vs Deno.serve |\n|---|---:|---:|",
  );
  const servers = ["lunet/http on ffi", "lunet/http on deno", "Deno.serve"];
  const results = servers.map(() => 0);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < servers.length; i++) {
      results[i] = Math.max(results[i], await wrk(servers[i], seconds));
    }
  }
  for (let i = 0; i < servers.length; i++) {
    console.log(`| ${servers[i]} | ${fmt(results[i])} | ${ratio(results[i], results[2])} |`);
  }
}

async function wrk(server: string, seconds: number): Promise<number> {
  const backend = server.endsWith("ffi") ? "ffi" : "deno";
  const proc = child([], [`--role=http`, `--server=${server.replace(/ .*/, "")}`], {
    LUNET_BACKEND: backend,
  });
  const out = lines(proc);
  const port = Number((await out.next()).value);
  const res = await new Deno.Command("wrk", {
    args: ["-t1", "-c50", `-d${seconds}s`, `http://127.0.0.1:${port}/`],
    stdout: "piped",
  }).output();
  proc.kill();
  for await (const _ of out);
  await proc.status;
  const report = new TextDecoder().decode(res.stdout);
  const match = report.match(/Requests\/sec:\s+([\d.]+)/);
  if (!match || /Non-2xx|Socket errors/.test(report)) throw new Error(`wrk failed:\n${report}`);
  return Number(match[1]);
}

async function httpServer(kind: string): Promise<void> {
  const body = { message: "Hello, World!" };
  if (kind === "Deno.serve") {
    const s = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => Response.json(body),
    );
    console.log(s.addr.port);
    return;
  }
  const http = await import("../src/http/mod.ts");
  const s = await http.serve(() => http.json(body), { port: 0 });
  console.log(s.addr.port);
}

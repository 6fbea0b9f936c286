/**
 * lunet sockets side by side with their peers, in one run:
 *
 * 1. TCP echo throughput, 256 KiB writes, one connection on loopback:
 *    lunet/socket (each backend; `read()` of owned chunks and `readInto()`
 *    of a reused buffer) vs a raw `Deno.Conn` read/write loop over a reused
 *    256 KiB buffer vs `node:net` with `socket.pipe(socket)`. Client and
 *    server share the process; the figure is MiB/s each way.
 * 2. Idle connections: RSS per connection of a server process holding N
 *    connections with a read waiting on each (lunet vs raw Deno with a
 *    4 KiB buffer per connection). The clients run in another process.
 * 3. Accept rate: connect-and-close by 16 concurrent clients (conns/s).
 * 4. UDP ping-pong, 64-byte datagrams, 8 concurrent senders
 *    (datagrams/s): lunet/udp on each backend vs raw `Deno.listenDatagram`.
 *
 * Throughput figures are the best of 5 interleaved rounds (accept and UDP:
 * 3; 1 with `--smoke`), which filters out other load on a shared machine;
 * the echo table also gives the process CPU time per GiB, which other load
 * disturbs far less than wall-clock rates.
 *
 *     deno run -A bench/socket_load.ts [--smoke]
 *
 * @module
 */
import * as net from "node:net";
import process from "node:process";
import { scope, spawn } from "../mod.ts";
import { connect, listen } from "../src/socket.ts";
import * as udp from "../src/udp.ts";
import { serveEcho } from "../tests/net_helpers.ts";

type Backend = "deno" | "ffi";
const args = new Map(Deno.args.map((a) => a.replace(/^--/, "").split("=") as [string, string]));
const smoke = args.has("smoke");
const CHUNK = 256 * 1024;
const block = new Uint8Array(CHUNK).fill(42);

if (args.get("role") === "idle-server") await idleServer(args.get("kind")!);
else if (args.get("role") === "idle-clients") {
  await idleClients(Number(args.get("port")), Number(args.get("conns")));
} else await main();

async function main(): Promise<void> {
  const rounds = smoke ? 1 : 3;
  const bytes = (smoke ? 64 : 256) * 1024 * 1024;
  console.log(`# lunet/socket vs peers${smoke ? " (smoke)" : ""}\n`);
  console.log(
    `Best of ${smoke ? 1 : 5} interleaved rounds for echo, ${rounds} for accept and UDP.\n`,
  );
  console.log(`## TCP echo, 256 KiB writes, ${bytes / 2 ** 20} MiB each way\n`);
  const cpu: Record<string, number> = {};
  const echo = await best(smoke ? 1 : 5, {
    "lunet read() (deno backend)": () => echoLunet(bytes, "deno", "read"),
    "lunet readInto() (deno backend)": () => echoLunet(bytes, "deno", "readInto"),
    "lunet read() (ffi backend)": () => echoLunet(bytes, "ffi", "read"),
    "lunet readInto() (ffi backend)": () => echoLunet(bytes, "ffi", "readInto"),
    "raw Deno.Conn": () => echoRaw(bytes),
    "node:net pipe": () => echoNode(bytes),
  }, (name, cpuMs) => {
    // CPU time of the whole process per GiB echoed: client and server, all threads.
    const perGiB = cpuMs / (bytes / 2 ** 30);
    cpu[name] = Math.min(cpu[name] ?? Infinity, perGiB);
  });
  table("MiB/s each way", echo, "raw Deno.Conn");
  console.log("\nProcess CPU time per GiB echoed (client and server, all threads), lowest:\n");
  table("CPU ms per GiB", cpu, "raw Deno.Conn");

  const conns = smoke ? 500 : 10_000;
  console.log(`\n## Idle connections: server RSS per connection, ${conns} conns\n`);
  const idle: Record<string, number> = {};
  for (const kind of ["lunet-deno", "lunet-ffi", "raw-deno-4k"]) {
    idle[kind] = await idleRss(kind, conns);
  }
  table("KiB per connection", idle, "raw-deno-4k");

  const accepts = smoke ? 1000 : 5_000;
  console.log(`\n## Accept rate, ${accepts} connect-and-close, 16 concurrent clients\n`);
  table(
    "conns/s",
    await best(rounds, {
      "lunet (deno backend)": () => acceptLunet(accepts, "deno"),
      "lunet (ffi backend)": () => acceptLunet(accepts, "ffi"),
      "raw Deno.listen": () => acceptRaw(accepts),
    }),
    "raw Deno.listen",
  );

  const seconds = smoke ? 0.5 : 2;
  console.log(`\n## UDP ping-pong, 64-byte datagrams, 8 senders, ${seconds} s\n`);
  table(
    "datagrams/s",
    await best(rounds, {
      "lunet/udp (deno backend)": () => udpLunet(seconds, "deno"),
      "lunet/udp (ffi backend)": () => udpLunet(seconds, "ffi"),
      "raw Deno.listenDatagram": () => udpRaw(seconds),
    }),
    "raw Deno.listenDatagram",
  );
}

// Runs every measurement once per round, interleaved, and keeps each one's
// best figure: on a shared machine the best run is the least disturbed.
// `onCpu` receives the process CPU milliseconds each run used.
async function best(
  rounds: number,
  runs: Record<string, () => Promise<number>>,
  onCpu?: (name: string, cpuMs: number) => void,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, run] of Object.entries(runs)) {
      const before = process.cpuUsage();
      out[name] = Math.max(out[name] ?? 0, await run());
      const used = process.cpuUsage(before);
      onCpu?.(name, (used.user + used.system) / 1000);
    }
  }
  return out;
}

function table(unit: string, rows: Record<string, number>, base: string): void {
  console.log(`| implementation | ${unit} | vs ${base} |\n|---|---:|---:|`);
  for (const [name, v] of Object.entries(rows)) {
    const shown = v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(2);
    console.log(`| ${name} | ${shown} | ${(v / rows[base]).toFixed(2)}× |`);
  }
}

function mibps(bytes: number, start: number): number {
  return bytes / 2 ** 20 / ((performance.now() - start) / 1000);
}

// `read` loops over owned chunks (`conn.read()`); `readInto` loops over one
// reused buffer (`conn.readInto(buf)`), on both the server and the client.
async function echoLunet(
  total: number,
  backend: Backend,
  mode: "read" | "readInto",
): Promise<number> {
  const l = await listen("tcp", "127.0.0.1", 0, { backend });
  const server = mode === "read" ? serveEcho(l) : spawn(async () => {
    using conn = await l.accept();
    const buf = new Uint8Array(CHUNK);
    for (let n; (n = await conn.readInto(buf)) !== null;) await conn.write(buf.subarray(0, n));
  });
  const c = await connect("127.0.0.1", l.addr.port, { backend });
  const start = performance.now();
  const elapsed = await spawn(async () => {
    const writer = spawn(async () => {
      for (let sent = 0; sent < total; sent += CHUNK) await c.write(block);
    });
    const buf = new Uint8Array(CHUNK);
    if (mode === "read") { for (let got = 0; got < total;) got += (await c.read())!.length; }
    else for (let got = 0; got < total;) got += (await c.readInto(buf))!;
    await writer;
    return mibps(total, start);
  });
  c.close();
  l.close();
  await server;
  return elapsed;
}

async function echoRaw(total: number): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = (async () => {
    const conn = await l.accept();
    const buf = new Uint8Array(CHUNK);
    for (let n; (n = await conn.read(buf)) !== null;) {
      for (let off = 0; off < n;) off += await conn.write(buf.subarray(off, n));
    }
    conn.close();
  })();
  const c = await Deno.connect({ hostname: "127.0.0.1", port: (l.addr as Deno.NetAddr).port });
  const start = performance.now();
  const writer = (async () => {
    for (let sent = 0; sent < total; sent += CHUNK) {
      for (let off = 0; off < CHUNK;) off += await c.write(block.subarray(off));
    }
  })();
  const buf = new Uint8Array(CHUNK);
  for (let got = 0; got < total;) got += (await c.read(buf))!;
  await writer;
  const result = mibps(total, start);
  c.close();
  await server;
  l.close();
  return result;
}

async function echoNode(total: number): Promise<number> {
  const server = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const c = net.connect(port, "127.0.0.1");
  await new Promise<void>((r) => c.once("connect", r));
  const start = performance.now();
  const done = new Promise<void>((resolve) => {
    let got = 0;
    c.on("data", (d: Uint8Array) => {
      if ((got += d.length) >= total) resolve();
    });
  });
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      sent += CHUNK;
      if (!c.write(block)) return void c.once("drain", pump);
    }
  };
  pump();
  await done;
  const result = mibps(total, start);
  c.destroy();
  await new Promise((r) => server.close(r));
  return result;
}

async function rss(): Promise<number> {
  // Let the runtime settle, then read the resident set size.
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 100));
  return Deno.memoryUsage().rss;
}

// Runs this script in a child process whose open-file limit is raised as
// far as the hard limit allows (10,000 connections need 10,000+ descriptors).
function child(args: string[]): Deno.ChildProcess {
  const script = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null; exec "$@"';
  return new Deno.Command("sh", {
    args: [
      "-c",
      script,
      "sh",
      Deno.execPath(),
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      import.meta.filename!,
      ...args,
    ],
    stdout: "piped",
    stdin: "piped",
    stderr: "inherit",
  }).spawn();
}

// Reads a child's stdout line by line.
function lineReader(proc: Deno.ChildProcess): () => Promise<string> {
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return async () => {
    while (!buffer.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("child exited early");
      buffer += value;
    }
    const i = buffer.indexOf("\n");
    const line = buffer.slice(0, i);
    buffer = buffer.slice(i + 1);
    return line;
  };
}

// Server process: prints its port, then a line with RSS before/after each
// "measure" request on stdin; exits when stdin closes.
async function idleServer(kind: string): Promise<void> {
  const held: unknown[] = [];
  let port: number;
  if (kind === "raw-deno-4k") {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    port = (l.addr as Deno.NetAddr).port;
    (async () => {
      for await (const c of l) {
        held.push(c);
        c.read(new Uint8Array(4096)).catch(() => {});
      }
    })();
  } else {
    const backend = kind === "lunet-ffi" ? "ffi" : "deno";
    const l = await listen("tcp", "127.0.0.1", 0, { backend });
    port = l.addr.port;
    spawn(async () => {
      for await (const c of l) {
        held.push(c);
        spawn(() => c.read().catch(() => null));
      }
    });
  }
  (globalThis as { gc?: () => void }).gc?.();
  const before = await rss();
  console.log(JSON.stringify({ port, before }));
  await Deno.stdin.read(new Uint8Array(16)); // the parent says "measure"
  (globalThis as { gc?: () => void }).gc?.();
  console.log(JSON.stringify({ after: await rss(), held: held.length }));
  Deno.exit(0);
}

async function idleClients(port: number, conns: number): Promise<void> {
  const held: Deno.Conn[] = [];
  for (let i = 0; i < conns; i += 100) {
    const batch = [];
    for (let k = i; k < Math.min(conns, i + 100); k++) {
      batch.push(Deno.connect({ hostname: "127.0.0.1", port }));
    }
    held.push(...await Promise.all(batch));
  }
  console.log("connected");
  await Deno.stdin.read(new Uint8Array(1));
  Deno.exit(0);
}

async function idleRss(kind: string, conns: number): Promise<number> {
  const server = child([`--role=idle-server`, `--kind=${kind}`]);
  const out = lineReader(server);
  const { port, before } = JSON.parse(await out());
  const clients = child([`--role=idle-clients`, `--port=${port}`, `--conns=${conns}`]);
  await lineReader(clients)(); // "connected"
  const w = server.stdin.getWriter();
  await w.write(new TextEncoder().encode("measure\n"));
  const { after, held } = JSON.parse(await out());
  if (held !== conns) throw new Error(`${kind}: server holds ${held} of ${conns} connections`);
  await w.close();
  await server.status;
  const cw = clients.stdin.getWriter();
  await cw.write(new Uint8Array(1));
  await cw.close();
  await clients.status;
  return (after - before) / conns / 1024;
}

async function acceptLunet(total: number, backend: Backend): Promise<number> {
  const l = await listen("tcp", "127.0.0.1", 0, { backend });
  const server = spawn(async () => {
    for await (const c of l) c.close();
  });
  const start = performance.now();
  await scope(() => {
    for (let w = 0; w < 16; w++) {
      spawn(async () => {
        for (let i = w; i < total; i += 16) {
          const c = await connect("127.0.0.1", l.addr.port, { backend });
          await c.read();
          c.close();
        }
      });
    }
  });
  const rate = total / ((performance.now() - start) / 1000);
  l.close();
  await server;
  return rate;
}

async function acceptRaw(total: number): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  const server = (async () => {
    try {
      for await (const c of l) c.close();
    } catch { /* closed */ }
  })();
  const start = performance.now();
  const buf = new Uint8Array(16);
  await Promise.all(Array.from({ length: 16 }, async (_, w) => {
    for (let i = w; i < total; i += 16) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      await c.read(buf).catch(() => null);
      c.close();
    }
  }));
  const rate = total / ((performance.now() - start) / 1000);
  l.close();
  await server;
  return rate;
}

async function udpLunet(seconds: number, backend: Backend): Promise<number> {
  const server = udp.bind("127.0.0.1", 0, { backend });
  const echo = spawn(async () => {
    for (;;) {
      const m = await server.recv().catch(() => null);
      if (!m) return;
      await server.send(m.data, m.host, m.port);
    }
  });
  const until = performance.now() + seconds * 1000;
  let count = 0;
  const payload = new Uint8Array(64);
  await scope(() => {
    for (let w = 0; w < 8; w++) {
      spawn(async () => {
        using c = udp.bind("127.0.0.1", 0, { backend });
        while (performance.now() < until) {
          await c.send(payload, "127.0.0.1", server.local.port);
          await c.recv({ timeout: 1000 });
          count++;
        }
      });
    }
  });
  server.close();
  await echo;
  return count / seconds;
}

async function udpRaw(seconds: number): Promise<number> {
  const server = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const echo = (async () => {
    try {
      for (;;) {
        const [data, from] = await server.receive();
        await server.send(data, from);
      }
    } catch { /* closed */ }
  })();
  const to = server.addr;
  const until = performance.now() + seconds * 1000;
  let count = 0;
  const payload = new Uint8Array(64);
  await Promise.all(Array.from({ length: 8 }, async () => {
    const c = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    while (performance.now() < until) {
      await c.send(payload, to);
      await c.receive();
      count++;
    }
    c.close();
  }));
  server.close();
  await echo;
  return count / seconds;
}

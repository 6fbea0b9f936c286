/**
 * WebSocket load: lunet/ws against Deno.upgradeWebSocket (Deno.serve) and
 * npm `ws` on Node, each server in its own process, driven by the same
 * lunet/ws clients from this process.
 *
 * 1. Echo of 64-byte and 16 KiB binary messages over 50 connections
 *    (one message in flight per connection): messages/s and the server's
 *    peak RSS; runs in A B C C B A order, each warmed for 1 s first.
 * 2. Broadcast to 1,000 subscribers: lunet's `publish` against a hand loop
 *    over Deno.upgradeWebSocket sockets; deliveries/s.
 * 3. Memory per idle WebSocket at 10,000 connections (server RSS growth),
 *    and under it the floor: a lunet socket with a task waiting to read.
 *
 * Run:  deno run -A bench/ws_load.ts [--smoke] [--only=echo,broadcast,idle]
 *       [--kinds=lunet,deno,node] [--seconds=3]
 */
import { serve } from "../src/http/mod.ts";
import { accept, connect, publish, type WsConn } from "../src/ws/mod.ts";
import { connect as connectTcp, listen } from "../src/socket.ts";
import { spawn } from "../mod.ts";

const args = Deno.args;

// ---- server roles (child processes) ------------------------------------
if (args[0] === "--serve") {
  const kind = args[1];
  if (kind === "lunet") {
    const server = await serve(async (req) => {
      const ws = await accept(req, { pingInterval: 0 });
      if (req.path === "/sub") ws.subscribe("b");
      for await (const msg of ws) {
        if (typeof msg === "string" && msg.startsWith("go ")) {
          const [n, size] = msg.slice(3).split(" ").map(Number);
          const payload = new Uint8Array(size);
          for (let i = 0; i < n; i++) publish("b", payload);
        } else if (req.path !== "/sub") await ws.send(msg);
      }
    }, { port: 0 });
    console.log(`port ${server.addr.port}`);
  } else if (kind === "socket") {
    // The floor under lunet/ws: a lunet socket with a task waiting to read.
    const listener = await listen("tcp", "127.0.0.1", 0);
    console.log(`port ${listener.addr.port}`);
    for (;;) {
      const conn = await listener.accept();
      spawn(async () => {
        while (await conn.read() !== null);
        conn.close();
      });
    }
  } else if (kind === "deno") {
    const subs = new Set<WebSocket>();
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req, { idleTimeout: 0 });
      const path = new URL(req.url).pathname;
      if (path === "/sub") {
        socket.onopen = () => subs.add(socket);
        socket.onclose = () => subs.delete(socket);
      }
      socket.binaryType = "arraybuffer";
      socket.onmessage = (e) => {
        if (typeof e.data === "string" && e.data.startsWith("go ")) {
          const [n, size] = e.data.slice(3).split(" ").map(Number);
          const payload = new Uint8Array(size);
          for (let i = 0; i < n; i++) for (const s of subs) s.send(payload);
        } else if (path !== "/sub") socket.send(e.data);
      };
      return response;
    });
    console.log(`port ${server.addr.port}`);
  }
  // Keep running until killed.
  await new Promise(() => {});
}

// ---- driver ---------------------------------------------------------------
const smoke = args.includes("--smoke");
const option = (name: string) =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const only = option("only")?.split(",") ?? ["echo", "broadcast", "idle"];
const SECONDS = smoke ? 0.3 : Number(option("seconds") ?? 3);
const WARM = smoke ? 0.1 : 1;
const CONNS = smoke ? 5 : 50;
const SUBS = smoke ? 20 : 1000;
const IDLE = smoke ? 100 : 10_000;

function wsModulePath(): string | undefined {
  const home = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
  const dir = `${home}/npm/registry.npmjs.org/ws`;
  try {
    const versions = [...Deno.readDirSync(dir)].filter((e) =>
      e.isDirectory && e.name.startsWith("8.")
    );
    return versions.length ? `${dir}/${versions.sort().at(-1)!.name}` : undefined;
  } catch {
    return undefined;
  }
}

interface Child {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

async function start(kind: string): Promise<Child> {
  let cmd: Deno.Command;
  if (kind === "node") {
    const ws = wsModulePath();
    if (!ws) throw new Error("npm ws is not in the Deno cache (run the ws tests once)");
    const script = `const { WebSocketServer } = require(${JSON.stringify(ws)});
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
wss.on("listening", () => console.log("port " + wss.address().port));
wss.on("connection", (s) => s.on("message", (d, bin) => s.send(d, { binary: bin })));`;
    cmd = new Deno.Command("node", { args: ["-e", script], stdout: "piped", stderr: "inherit" });
  } else {
    cmd = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, "--serve", kind],
      stdout: "piped",
      stderr: "inherit",
    });
  }
  const proc = cmd.spawn();
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/port (\d+)/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${kind} server ended early`);
    text += value;
  }
  const port = Number(/port (\d+)/.exec(text)![1]);
  return {
    port,
    pid: proc.pid,
    async stop() {
      proc.kill("SIGKILL");
      await proc.status;
      await reader.cancel().catch(() => {});
    },
  };
}

// CPU time (user + system) of a process so far, in ms (clock ticks of 10 ms).
function cpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

function rss(pid: number, field = "VmRSS"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]) * 1024;
}

async function echoRun(
  kind: string,
  size: number,
): Promise<{ rate: number; peak: number; cpu: number }> {
  const child = await start(kind);
  try {
    const clients = await Promise.all(
      Array.from(
        { length: CONNS },
        () => connect(`ws://127.0.0.1:${child.port}/`, { timeout: 10_000 }),
      ),
    );
    const payload = new Uint8Array(size).fill(7);
    let count = 0, counting = false, stop = false;
    const loops = clients.map(async (ws) => {
      while (!stop) {
        await ws.send(payload);
        await ws.recv();
        if (counting) count++;
      }
    });
    await new Promise((r) => setTimeout(r, WARM * 1000));
    counting = true;
    const t0 = performance.now(), c0 = cpuMs(child.pid);
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const n = count, c1 = cpuMs(child.pid);
    const secs = (performance.now() - t0) / 1000;
    stop = true;
    await Promise.all(loops);
    const peak = rss(child.pid, "VmHWM");
    await Promise.all(clients.map((c) => c.close()));
    return { rate: n / secs, peak, cpu: ((c1 - c0) * 1000) / n };
  } finally {
    await child.stop();
  }
}

async function broadcastRun(kind: string): Promise<number> {
  const child = await start(kind);
  try {
    const subs: WsConn[] = [];
    for (let i = 0; i < SUBS; i += 100) {
      subs.push(
        ...await Promise.all(
          Array.from(
            { length: Math.min(100, SUBS - i) },
            () => connect(`ws://127.0.0.1:${child.port}/sub`, { timeout: 10_000 }),
          ),
        ),
      );
    }
    const control = await connect(`ws://127.0.0.1:${child.port}/`, { timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 200));
    const N = smoke ? 10 : 200;
    const t0 = performance.now();
    const got = subs.map(async (ws) => {
      for (let i = 0; i < N; i++) await ws.recv();
    });
    await control.send(`go ${N} 64`);
    await Promise.all(got);
    const rate = (SUBS * N) / ((performance.now() - t0) / 1000);
    await Promise.all([...subs, control].map((c) => c.close()));
    return rate;
  } finally {
    await child.stop();
  }
}

async function idleRun(
  kind: string,
): Promise<{ perConn: number; count: number; secondHalf: number }> {
  const child = await start(kind);
  const clients: Array<{ close(): unknown }> = [];
  const open: () => Promise<{ close(): unknown }> = kind === "socket"
    ? () => connectTcp("127.0.0.1", child.port)
    : () => connect(`ws://127.0.0.1:${child.port}/`, { timeout: 10_000 });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const before = rss(child.pid);
    let half = 0, halfCount = 0;
    try {
      for (let i = 0; i < IDLE; i += 200) {
        if (halfCount === 0 && i >= IDLE / 2) {
          await new Promise((r) => setTimeout(r, 1000));
          half = rss(child.pid);
          halfCount = clients.length;
        }
        clients.push(
          ...await Promise.all(
            Array.from(
              { length: Math.min(200, IDLE - i) },
              open,
            ),
          ),
        );
      }
    } catch (err) {
      console.log(
        `  (${kind}: stopped at ${clients.length} connections: ${(err as Error).message})`,
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
    const after = rss(child.pid);
    return {
      perConn: (after - before) / clients.length,
      count: clients.length,
      // What each further connection adds once the fixed growth (the young
      // generation's, compiled code) is behind: the second half's slope.
      secondHalf: halfCount > 0 ? (after - half) / (clients.length - halfCount) : NaN,
    };
  } finally {
    const closing = clients.map((c) => Promise.resolve(c.close()).catch(() => {}));
    await child.stop();
    await Promise.all(closing);
  }
}

const kinds = option("kinds")?.split(",") ?? ["lunet", "deno", "node"];
const order = [...kinds, ...[...kinds].reverse()];
const mib = (b: number) => (b / 1048576).toFixed(1);
console.log(
  `ws_load: ${CONNS} connections, ${SECONDS} s per run after ${WARM} s warm-up, order ${
    order.join(" ")
  }`,
);
for (const size of only.includes("echo") ? [64, 16384] : []) {
  const results = new Map<string, { rate: number[]; peak: number[]; cpu: number[] }>();
  for (const kind of order) {
    const r = await echoRun(kind, size);
    const entry = results.get(kind) ?? { rate: [], peak: [], cpu: [] };
    entry.rate.push(r.rate);
    entry.peak.push(r.peak);
    entry.cpu.push(r.cpu);
    results.set(kind, entry);
  }
  for (const [kind, r] of results) {
    const rate = r.rate.reduce((a, b) => a + b) / r.rate.length;
    console.log(
      `echo ${size} B  ${kind.padEnd(6)} ${Math.round(rate).toString().padStart(8)} msg/s  ` +
        `(runs ${r.rate.map((x) => Math.round(x)).join(", ")})  server CPU ${
          (r.cpu.reduce((a, b) => a + b) / r.cpu.length).toFixed(1)
        } µs/msg  peak RSS ${mib(Math.max(...r.peak))} MiB`,
    );
  }
}
for (const kind of only.includes("broadcast") ? ["lunet", "deno", "deno", "lunet"] : []) {
  console.log(
    `broadcast ${SUBS} subscribers  ${kind.padEnd(6)} ${
      Math.round(await broadcastRun(kind))
    } deliveries/s`,
  );
}
for (const kind of only.includes("idle") ? ["lunet", "deno", "socket"] : []) {
  const r = await idleRun(kind);
  const half = Number.isNaN(r.secondHalf)
    ? ""
    : ` (second half: ${(r.secondHalf / 1024).toFixed(1)} KiB each)`;
  console.log(
    `idle ${r.count} connections  ${kind.padEnd(6)} ${
      (r.perConn / 1024).toFixed(1)
    } KiB per connection${half}`,
  );
}

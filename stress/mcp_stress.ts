// deno-lint-ignore-file no-import-prefix -- the MCP SDK is a test-only package, kept out of the import map
/**
 * Stress: rounds of 20 concurrent official-SDK MCP clients (half on the
 * SSE transport, half on Streamable HTTP) making 10 tool calls each
 * against the MCP server in this process — notes writes and searches on
 * SQLite, and `http_fetch` through lunet/httpc to a local page. After
 * every round, each session must be gone and no lunet task or handle
 * left alive. Bounded in rounds and time, with a watchdog.
 *
 * The clients run in a child process (this file with `--clients`), so the
 * figures are the server's: the SDK client costs more CPU per call than
 * the server does (a zod parse of every message, an Ajv instance per
 * client), and in one process the two compete for the same thread. The
 * summary gives calls/s and the CPU time per call of each process
 * (user + system, from `/proc/<pid>/stat`).
 *
 *     deno run -A stress/mcp_stress.ts           # 30 rounds
 *     deno run -A stress/mcp_stress.ts --smoke   # 2 rounds
 *
 * Exits non-zero on any error or leak.
 *
 * @module
 */
import { Client } from "npm:@modelcontextprotocol/sdk@^1.29/client/index.js";
import { SSEClientTransport } from "npm:@modelcontextprotocol/sdk@^1.29/client/sse.js";
import { StreamableHTTPClientTransport } from "npm:@modelcontextprotocol/sdk@^1.29/client/streamableHttp.js";
import { trace } from "../mod.ts";
import * as sqlite from "../drivers/sqlite.ts";
import { startMcpServer } from "../examples/mcp_sse/server.ts";
import { createCatalog } from "../examples/mcp_sse/catalog.ts";

const CLIENTS = 20;
const CALLS = 10;

/** CPU time (user + system) of process `pid` so far, ms. */
function cpuMs(pid: number | "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // USER_HZ = 100
}

// ---- the client process: one line per round on stdin, one answer on stdout

async function client(base: string, pageUrl: string, i: number, round: number): Promise<void> {
  const sse = i % 2 === 1;
  const c = new Client({ name: `stress-${round}-${i}`, version: "1.0.0" });
  const transport = sse
    ? new SSEClientTransport(new URL(`${base}/sse`))
    : new StreamableHTTPClientTransport(new URL(`${base}/mcp`));
  await c.connect(transport);
  try {
    for (let j = 0; j < CALLS; j++) {
      const [name, args] = j % 5 === 4
        ? ["http_fetch", { url: pageUrl }]
        : j % 2 === 0
        ? ["notes_add", { title: `r${round}c${i}n${j}`, body: "stress" }]
        : ["notes_search", { query: `r${round}c${i}`, limit: 5 }];
      const res = await c.callTool({ name, arguments: args });
      if (res.isError) throw new Error(`${name} failed: ${JSON.stringify(res.content)}`);
    }
  } finally {
    if (transport instanceof StreamableHTTPClientTransport) await transport.terminateSession();
    await c.close();
  }
}

async function runClients(base: string, pageUrl: string): Promise<void> {
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
  const out = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(`${line}\n`));
  let buffered = "";
  for (;;) {
    const { value, done } = await lines.read();
    if (done) return;
    buffered += value;
    for (let cut; (cut = buffered.indexOf("\n")) >= 0;) {
      const round = Number(buffered.slice(0, cut));
      buffered = buffered.slice(cut + 1);
      try {
        await Promise.all(
          Array.from({ length: CLIENTS }, (_, i) => client(base, pageUrl, i, round)),
        );
        out(`ok ${round} ${cpuMs("self")}`);
      } catch (err) {
        out(`error ${round} ${JSON.stringify(String((err as Error)?.stack ?? err))}`);
      }
    }
  }
}

const at = Deno.args.indexOf("--clients");
if (at >= 0) {
  await runClients(Deno.args[at + 1], Deno.args[at + 2]);
  Deno.exit(0);
}

// ---- the server process

const smoke = Deno.args.includes("--smoke");
const ROUNDS = smoke ? 2 : 30;
const WATCHDOG_MS = smoke ? 60_000 : 300_000;

const watchdog = setTimeout(() => {
  console.error(`mcp stress: watchdog fired after ${WATCHDOG_MS} ms`);
  Deno.exit(2);
}, WATCHDOG_MS);

const baseline = trace.snapshot().counts;
const page = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  () => new Response("stress page"),
);
const db = await sqlite.open(":memory:");
const server = await startMcpServer({ port: 0, ...await createCatalog({ db }), heartbeat: 5000 });
const base = `http://127.0.0.1:${server.port}`;
const pageUrl = `http://127.0.0.1:${page.addr.port}/`;
const running = trace.snapshot().counts;

const clients = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", new URL(import.meta.url).pathname, "--clients", base, pageUrl],
  stdin: "piped",
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const toClients = clients.stdin.getWriter();
const fromClients = clients.stdout.pipeThrough(new TextDecoderStream()).getReader();
let pending = "";

/** Runs one round in the client process; returns its CPU time so far, ms. */
async function round(n: number): Promise<number> {
  await toClients.write(new TextEncoder().encode(`${n}\n`));
  for (;;) {
    const cut = pending.indexOf("\n");
    if (cut >= 0) {
      const line = pending.slice(0, cut);
      pending = pending.slice(cut + 1);
      const [status, , rest] = line.split(" ", 3);
      if (status === "ok") return Number(rest);
      const detail = line.slice(line.indexOf(" ", status.length + 1) + 1);
      throw new Error(`round ${n}: client failed: ${JSON.parse(detail)}`);
    }
    const { value, done } = await fromClients.read();
    if (done) throw new Error(`round ${n}: the client process exited`);
    pending += value;
  }
}

/** Live task/handle counts, as a comparable string. */
function counts(c: Record<string, number> = trace.snapshot().counts): string {
  return JSON.stringify(Object.entries(c).filter(([, n]) => n !== 0).sort());
}

/**
 * What must be alive between rounds: what was alive once the servers
 * started, plus one task and one socket per keep-alive connection the
 * clients' connection pools still hold open.
 */
function expectedBetweenRounds(): string {
  const conns = server.http.connections;
  const add = (kind: string) => (running[kind] ?? 0) + conns;
  const expected = { ...running, task: add("task"), tcp: add("tcp") };
  // The ffi backend counts file descriptors too; the Deno.Conn backend has none to count.
  return counts(running.fd === undefined ? expected : { ...expected, fd: add("fd") });
}

/** Waits for the live counts to match `expected()`; returns whether they did. */
async function settled(expected: () => string): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (counts() === expected()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

let failed = false;
let calls = 0;
let clientCpu = 0;
let t0 = performance.now();
let serverCpu0 = cpuMs("self");
try {
  for (let n = 1; n <= ROUNDS; n++) {
    const cpu = await round(n);
    if (n === 1) {
      // The first round also loads and compiles the SDK: measure from the second.
      t0 = performance.now();
      serverCpu0 = cpuMs("self");
      clientCpu = -cpu;
    } else if (n === ROUNDS) clientCpu += cpu;
    calls += CLIENTS * CALLS;
    for (let i = 0; i < 200 && server.sessions.size > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    if (server.sessions.size !== 0) {
      throw new Error(`round ${n}: ${server.sessions.size} sessions left`);
    }
    if (!(await settled(expectedBetweenRounds))) {
      throw new Error(`round ${n}: leak: expected ${expectedBetweenRounds()}, live ${counts()}`);
    }
    const rss = (Deno.memoryUsage().rss / 1048576).toFixed(1);
    console.log(`round ${n}/${ROUNDS}: ${calls} calls, rss ${rss} MiB`);
  }
} catch (err) {
  failed = true;
  console.error("mcp stress: FAILED:", err);
}
const seconds = (performance.now() - t0) / 1000;
const serverCpu = cpuMs("self") - serverCpu0;
if (failed) clientCpu = NaN;
const measured = (ROUNDS - 1) * CLIENTS * CALLS;
await toClients.close().catch(() => {});
await clients.status;
await server.close();
await db.close();
await page.shutdown();
if (!(await settled(() => counts(baseline)))) {
  failed = true;
  console.error(
    `mcp stress: leak: before ${counts(baseline)}, after ${counts()}\n${trace.report()}`,
  );
}
clearTimeout(watchdog);
console.log(
  `mcp stress: ${calls} tool calls by ${ROUNDS * CLIENTS} sessions; after the first round ` +
    `${(measured / seconds).toFixed(0)} calls/s, CPU per call: server ` +
    `${(serverCpu / measured).toFixed(2)} ms, SDK clients ${(clientCpu / measured).toFixed(2)} ms` +
    (failed ? ", FAILED" : ", ok"),
);
if (failed) Deno.exit(1);

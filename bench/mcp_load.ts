/**
 * Load and memory comparison: the MCP server of `examples/mcp_sse` (lunet/http
 * and lunet/sqlite, started with the command of `deno task start`) against a
 * minimal server on the official TypeScript SDK (Node 22, `McpServer` with
 * `StreamableHTTPServerTransport`, sessions on) and a bare `Deno.serve` hello
 * server as the memory floor, each in its own process; the SDK server and the
 * MCP server run the same tool (`notes_list`: the 5 newest notes, as text and
 * structured content) on the same SQLite file. 50 concurrent clients, each
 * with its own session, make `--calls` tool calls in all over Streamable HTTP
 * (protocol 2025-11-25, replies as SSE). Measured per server: calls/s, CPU
 * time per call (user + system of the server process, from
 * `/proc/<pid>/stat`), median and p99 latency, and memory (VmRSS and
 * threads, `/proc/<pid>/status`): idle, the peak during the calls, just
 * after them, `--settle` seconds later (the sessions still open), and
 * `--ended` seconds after the clients then end their sessions (`DELETE`).
 *
 * With `--base=DIR` (a copy of an earlier tree: `git archive <rev> | tar -x
 * -C DIR`) the MCP server of that tree runs too, in the order base, this,
 * this, base, each started with its own tree's `start` task command.
 *
 *     deno run -A bench/mcp_load.ts                         # 4000 calls, settle 60 s, ended 10 s
 *     deno run -A bench/mcp_load.ts --base=/tmp/mcp-base    # A B B A against an earlier tree
 *     deno run -A bench/mcp_load.ts --calls=20000 --settle=5 --ended=1
 *     deno run -A bench/mcp_load.ts --smoke                 # 400 calls, settle 1 s
 *     deno run -A bench/mcp_load.ts --no-sdk                # lunet (and the floor) only
 *
 * Node 22 and the SDK come from the tools folder (installed on first use,
 * see `tools/_node_tools.ts`). Prints a markdown table.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { nodeTools } from "../tools/_node_tools.ts";
import { openSession } from "./_mcp_session.ts";
import {
  cpuMsOf as cpuMs,
  memoryOf as memory,
  type ServerProc as Proc,
  sleep,
  startServer,
  stopServer as stop,
} from "./_server_proc.ts";

function flag(name: string): string | undefined {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return arg?.slice(name.length + 3);
}

const smoke = Deno.args.includes("--smoke");
const CALLS = Number(flag("calls") ?? (smoke ? 400 : 4000));
const SETTLE_MS = Number(flag("settle") ?? (smoke ? 1 : 60)) * 1000;
// After the clients end their sessions.
const ENDED_MS = Number(flag("ended") ?? (smoke ? 0.3 : 10)) * 1000;
const BASE = flag("base");
const SDK = !Deno.args.includes("--no-sdk");
const IDLE_MS = smoke ? 500 : 3000;
const CLIENTS = 50;
const root = new URL("../", import.meta.url).pathname;

/** The floor: a hello server on the runtime's own HTTP server. */
const BARE_SERVER = `Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: ({ port }) =>
  console.log("port " + port) }, () => new Response("hello"));`;

/** The peer: the same tool on the official SDK. */
const SDK_SERVER = `
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

const db = new DatabaseSync(process.env.MCP_DB);
const list = db.prepare("SELECT id, title, body, tags, created FROM notes ORDER BY id DESC LIMIT ? OFFSET ?");
const note = z.object({ id: z.number().int(), title: z.string(), body: z.string(), tags: z.string(), created: z.string() });
function mcpServer() {
  const server = new McpServer({ name: "sdk-peer", version: "1.0.0" });
  server.registerTool("notes_list", {
    title: "List notes",
    description: "Lists the most recent notes, newest first.",
    inputSchema: { limit: z.number().int().min(1).max(100).default(20), offset: z.number().int().min(0).default(0) },
    outputSchema: { notes: z.array(note) },
  }, ({ limit, offset }) => {
    const notes = list.all(limit, offset).map((n) => ({ ...n, id: Number(n.id) }));
    const text = notes.map((n) => "#" + n.id + " " + n.title + (n.tags ? " [" + n.tags + "]" : "") + " (" + n.created + ")\\n" + n.body).join("\\n\\n");
    const structuredContent = { notes };
    return { content: [{ type: "text", text }, { type: "text", text: JSON.stringify(structuredContent) }], structuredContent };
  });
  return server;
}
const transports = new Map();
const http = createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
  const sid = req.headers["mcp-session-id"];
  let transport = sid && transports.get(sid);
  if (!transport) {
    if (sid || body?.method !== "initialize") { res.writeHead(400).end(); return; }
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => transports.set(id, transport),
    });
    transport.onclose = () => transports.delete(transport.sessionId);
    await mcpServer().connect(transport);
  }
  await transport.handleRequest(req, res, body);
});
http.listen(0, "127.0.0.1", () => console.log("port " + http.address().port));
process.on("SIGTERM", () => process.exit(0));
`;

/** One client's session: a tool call, and the end of the session (`DELETE`). */
interface Client {
  call(id: number): Promise<void>;
  end(): Promise<void>;
}

async function session(url: string): Promise<Client> {
  const headers = await openSession(url, "load");
  const call = async (id: number) => {
    const res = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify({
        jsonrpc: "2.0",
        id,
        method: "tools/call",
        params: { name: "notes_list", arguments: { limit: 5 } },
      }),
    });
    const text = await res.text();
    if (
      res.status !== 200 || !text.includes(`"id":${id}`) || !text.includes('"result"') ||
      text.includes('"isError":true')
    ) {
      throw new Error(`call failed: ${res.status} ${text.slice(0, 300)}`);
    }
  };
  const end = async () => {
    await (await fetch(url, { method: "DELETE", headers })).body?.cancel();
  };
  return { call, end };
}

interface Row {
  name: string;
  idle: number;
  idleThreads: number;
  peak: number;
  after: number;
  settled: number;
  settledThreads: number;
  ended: number;
  rps: number;
  cpu: number;
  p50: number;
  p99: number;
}

async function measure(name: string, proc: Proc): Promise<Row> {
  const pid = proc.child.pid;
  await sleep(IDLE_MS);
  const idle = memory(pid);
  const url = `http://127.0.0.1:${proc.port}/mcp`;
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => session(url)));
  for (const c of clients) await c.call(1); // warm up every session
  let peak = 0;
  const sampler = setInterval(() => peak = Math.max(peak, memory(pid).rss), 50);
  const latencies: number[] = [];
  let next = 2;
  const last = CALLS + 1;
  const cpu0 = cpuMs(pid), t0 = performance.now();
  await Promise.all(clients.map(async (c) => {
    while (next <= last) {
      const s = performance.now();
      await c.call(next++);
      latencies.push(performance.now() - s);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuMs(pid) - cpu0;
  clearInterval(sampler);
  await sleep(smoke ? 300 : 1500);
  const after = memory(pid).rss;
  await sleep(SETTLE_MS);
  const settled = memory(pid);
  await Promise.all(clients.map((c) => c.end()));
  await sleep(ENDED_MS);
  const ended = memory(pid).rss;
  latencies.sort((a, b) => a - b);
  const q = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    name,
    idle: idle.rss,
    idleThreads: idle.threads,
    peak: Math.max(peak, after),
    after,
    settled: settled.rss,
    settledThreads: settled.threads,
    ended,
    rps: latencies.length / seconds,
    cpu: cpu / latencies.length,
    p50: q(0.5),
    p99: q(0.99),
  };
}

/** The arguments of `deno run` in a tree's `start` task. */
function startArgs(tree: string): string[] {
  const tasks = JSON.parse(Deno.readTextFileSync(`${tree}/deno.json`)).tasks;
  const command: string = typeof tasks.start === "string" ? tasks.start : tasks.start.command;
  const words = command.trim().split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "run") throw new Error(`start task: ${command}`);
  return words.slice(1);
}

async function lunetRow(name: string, tree: string, dbPath: string): Promise<Row> {
  const proc = await startServer(
    Deno.execPath(),
    startArgs(tree),
    { MCP_PORT: "0", MCP_DB: dbPath, NO_COLOR: "1" },
    /on http:\/\/127\.0\.0\.1:(\d+)/,
    tree,
  );
  try {
    return await measure(name, proc);
  } finally {
    await stop(proc);
  }
}

/** Idle memory of a server that serves nothing but a hello. */
async function bareRow(dir: string): Promise<Row> {
  const script = `${dir}/bare.ts`;
  await Deno.writeTextFile(script, BARE_SERVER);
  const proc = await startServer(
    Deno.execPath(),
    ["run", "--allow-net", script],
    {},
    /port (\d+)/,
    root,
  );
  try {
    await sleep(IDLE_MS);
    const { rss, threads } = memory(proc.child.pid);
    return {
      name: "bare Deno.serve (hello, no load)",
      idle: rss,
      idleThreads: threads,
      peak: NaN,
      after: NaN,
      settled: NaN,
      settledThreads: NaN,
      ended: NaN,
      rps: NaN,
      cpu: NaN,
      p50: NaN,
      p99: NaN,
    };
  } finally {
    await stop(proc);
  }
}

async function sdkRow(dbPath: string): Promise<Row> {
  const tools = await nodeTools();
  const script = `${tools.dir}/mcp_sdk_peer.mjs`;
  await Deno.writeTextFile(script, SDK_SERVER);
  const sdk = await startServer(
    tools.node,
    ["--no-warnings", script],
    { MCP_DB: dbPath },
    /port (\d+)/,
    tools.dir,
  );
  try {
    return await measure("official SDK (Node 22)", sdk);
  } finally {
    await stop(sdk);
  }
}

const dir = await Deno.makeTempDir({ prefix: "lunet_mcp_bench_" });
const dbPath = `${dir}/notes.db`;
const seed = new DatabaseSync(dbPath);
seed.exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '', created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))`);
const insert = seed.prepare("INSERT INTO notes (title, body, tags) VALUES (?, ?, ?)");
for (let i = 1; i <= 20; i++) {
  insert.run(`note ${i}`, `the body of note ${i}, a line of text`, "bench");
}
seed.close();

const rows: Row[] = [];
try {
  rows.push(await bareRow(dir));
  const order = BASE ? ["base", "this", "this", "base"] : ["this"];
  for (const side of order) {
    const tree = side === "base" ? BASE! : root;
    rows.push(await lunetRow(`lunet (examples/mcp_sse), ${side} tree`, tree, dbPath));
  }
  if (SDK) rows.push(await sdkRow(dbPath));
} finally {
  await Deno.remove(dir, { recursive: true });
}

const f = (n: number, d = 1) => Number.isNaN(n) ? "–" : n.toFixed(d);
console.log(
  `\n${CLIENTS} concurrent sessions, ${CALLS} tools/call notes_list per server, ` +
    `settled ${SETTLE_MS / 1000} s after${smoke ? " (smoke)" : ""}\n`,
);
console.log(
  "| server | calls/s | CPU ms/call | p50 ms | p99 ms | idle RSS MiB (threads) | peak MiB | " +
    "after MiB | settled MiB (threads) | sessions ended MiB |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(
    `| ${r.name} | ${f(r.rps, 0)} | ${f(r.cpu, 3)} | ${f(r.p50)} | ${f(r.p99)} | ${
      f(r.idle)
    } (${r.idleThreads}) | ${f(r.peak)} | ${f(r.after)} | ${f(r.settled)} (${
      f(r.settledThreads, 0)
    }) | ${f(r.ended)} |`,
  );
}
console.log("| original lunet (LuaJIT + libuv), as measured there | | | | | 7 | | | | |");
const bare = rows[0].idle;
for (const r of rows.slice(1)) {
  console.log(
    `\n${r.name}: idle ${f(r.idle - bare)} MiB over bare, after the calls ${
      f(r.after - bare)
    }, settled ${f(r.settled - r.idle)} over its idle${
      SDK ? `; SDK CPU per call / this: ${(rows.at(-1)!.cpu / r.cpu).toFixed(2)}×` : ""
    }`,
  );
}

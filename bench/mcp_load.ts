/**
 * Load comparison: the MCP server of `examples/mcp_sse` (lunet/http and
 * lunet/sqlite, as `deno task start` runs it) against a minimal server on
 * the official TypeScript SDK (Node 22, `McpServer` with
 * `StreamableHTTPServerTransport`, sessions on), each in its own process
 * with the same tool (`notes_list`: the 5 newest notes, as text and
 * structured content) on the same SQLite file. 50 concurrent clients,
 * each with its own session, call the tool over Streamable HTTP
 * (protocol 2025-11-25, replies as SSE) for the phase. Measured per
 * server: calls/s, CPU time per call (user + system of the server
 * process, from `/proc/<pid>/stat`), median and p99 latency, RSS idle and
 * after the load.
 *
 *     deno run -A bench/mcp_load.ts            # 10 s per server
 *     deno run -A bench/mcp_load.ts --smoke    # about 1 s per server
 *
 * Node 22 and the SDK come from the tools folder (installed on first use,
 * see `tools/_node_tools.ts`). Prints a markdown table.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { nodeTools } from "../tools/_node_tools.ts";

const smoke = Deno.args.includes("--smoke");
const PHASE_MS = smoke ? 1000 : 10_000;
const CLIENTS = 50;
const root = new URL("../", import.meta.url).pathname;
const TICKS = 100; // clock ticks per second of /proc/<pid>/stat (USER_HZ)

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

interface Proc {
  child: Deno.ChildProcess;
  port: number;
}

/** Starts a server process and waits for the line announcing its port. */
async function start(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  portLine: RegExp,
  cwd = root,
): Promise<Proc> {
  const child = new Deno.Command(cmd, {
    args,
    env,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  })
    .spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited before announcing its port: ${seen}`);
    seen += value;
    const m = seen.match(portLine);
    if (m) {
      (async () => {
        while (!(await reader.read()).done) { /* keep the pipe drained */ }
      })();
      return { child, port: Number(m[1]) };
    }
  }
}

async function stop(proc: Proc): Promise<void> {
  proc.child.kill("SIGTERM");
  await proc.child.status;
}

function rssMiB(pid: number): number {
  const kb = Number(Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmRSS:\s+(\d+) kB/)![1]);
  return kb / 1024;
}

/** User + system CPU time of a process, ms. */
function cpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
}

const HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

async function session(url: string): Promise<(id: number) => Promise<void>> {
  const init = await fetch(url, {
    method: "POST",
    headers: HEADERS,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "load", version: "1" },
      },
    }),
  });
  await init.text();
  const headers = {
    ...HEADERS,
    "mcp-session-id": init.headers.get("mcp-session-id")!,
    "mcp-protocol-version": "2025-11-25",
  };
  await (await fetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  })).text();
  return async (id) => {
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
}

interface Row {
  name: string;
  idle: number;
  after: number;
  rps: number;
  cpu: number;
  p50: number;
  p99: number;
}

async function measure(name: string, proc: Proc): Promise<Row> {
  const pid = proc.child.pid;
  await new Promise((r) => setTimeout(r, smoke ? 300 : 1500));
  const idle = rssMiB(pid);
  const url = `http://127.0.0.1:${proc.port}/mcp`;
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => session(url)));
  for (const c of clients) await c(1); // warm up every session
  const latencies: number[] = [];
  let next = 2;
  const cpu0 = cpuMs(pid), t0 = performance.now(), end = Date.now() + PHASE_MS;
  await Promise.all(clients.map(async (call) => {
    while (Date.now() < end) {
      const s = performance.now();
      await call(next++);
      latencies.push(performance.now() - s);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuMs(pid) - cpu0;
  await new Promise((r) => setTimeout(r, smoke ? 300 : 1500));
  latencies.sort((a, b) => a - b);
  const q = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    name,
    idle,
    after: rssMiB(pid),
    rps: latencies.length / seconds,
    cpu: cpu / latencies.length,
    p50: q(0.5),
    p99: q(0.99),
  };
}

const tools = await nodeTools();
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
  const lunet = await start(
    Deno.execPath(),
    [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-ffi",
      "examples/mcp_sse/main.ts",
    ],
    { MCP_PORT: "0", MCP_DB: dbPath, NO_COLOR: "1" },
    /on http:\/\/127\.0\.0\.1:(\d+)/,
  );
  try {
    rows.push(await measure("lunet (examples/mcp_sse)", lunet));
  } finally {
    await stop(lunet);
  }
  const script = `${tools.dir}/mcp_sdk_peer.mjs`;
  await Deno.writeTextFile(script, SDK_SERVER);
  const sdk = await start(
    tools.node,
    ["--no-warnings", script],
    { MCP_DB: dbPath },
    /port (\d+)/,
    tools.dir,
  );
  try {
    rows.push(await measure("official SDK (Node 22)", sdk));
  } finally {
    await stop(sdk);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

const f = (n: number, d = 1) => n.toFixed(d);
console.log(
  `\n${CLIENTS} concurrent sessions, tools/call notes_list, ${PHASE_MS / 1000} s per server${
    smoke ? " (smoke)" : ""
  }\n`,
);
console.log(
  "| server | calls/s | CPU ms/call | p50 ms | p99 ms | idle RSS MiB | RSS after load MiB |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(
    `| ${r.name} | ${f(r.rps, 0)} | ${f(r.cpu, 3)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.idle)} | ${
      f(r.after)
    } |`,
  );
}
if (rows.length === 2) {
  console.log(`\nCPU per call, SDK / lunet: ${(rows[1].cpu / rows[0].cpu).toFixed(2)}×`);
}

// deno-lint-ignore-file no-import-prefix -- the MCP SDK is a test-only package, kept out of the import map
/**
 * Stress: rounds of 20 concurrent official-SDK MCP clients (half on the
 * SSE transport, half on Streamable HTTP) making 10 tool calls each
 * against the MCP server in this process — notes writes and searches on
 * SQLite, and `http_fetch` through lunet/httpc to a local page. After
 * every round, each session must be gone and no lunet task or handle
 * left alive. Bounded in rounds and time, with a watchdog.
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

const smoke = Deno.args.includes("--smoke");
const ROUNDS = smoke ? 2 : 30;
const CLIENTS = 20;
const CALLS = 10;
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
  return counts({ ...running, task: add("task"), tcp: add("tcp"), fd: add("fd") });
}

/** Waits for the live counts to match `expected()`; returns whether they did. */
async function settled(expected: () => string): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (counts() === expected()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

async function client(i: number, round: number): Promise<void> {
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

let failed = false;
let calls = 0;
const t0 = performance.now();
try {
  for (let round = 1; round <= ROUNDS; round++) {
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i, round)));
    calls += CLIENTS * CALLS;
    for (let i = 0; i < 200 && server.sessions.size > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    if (server.sessions.size !== 0) {
      throw new Error(`round ${round}: ${server.sessions.size} sessions left`);
    }
    if (!(await settled(expectedBetweenRounds))) {
      throw new Error(
        `round ${round}: leak: expected ${expectedBetweenRounds()}, live ${counts()}`,
      );
    }
    const rss = (Deno.memoryUsage().rss / 1048576).toFixed(1);
    console.log(`round ${round}/${ROUNDS}: ${calls} calls, rss ${rss} MiB`);
  }
} catch (err) {
  failed = true;
  console.error("mcp stress: FAILED:", err);
} finally {
  await server.close();
  await db.close();
  await page.shutdown();
}
const seconds = (performance.now() - t0) / 1000;
if (!(await settled(() => counts(baseline)))) {
  failed = true;
  console.error(
    `mcp stress: leak: before ${counts(baseline)}, after ${counts()}\n${trace.report()}`,
  );
}
clearTimeout(watchdog);
console.log(
  `mcp stress: ${calls} tool calls by ${ROUNDS * CLIENTS} sessions in ${seconds.toFixed(1)} s, ` +
    `${(calls / seconds).toFixed(0)} calls/s${failed ? ", FAILED" : ", ok"}`,
);
if (failed) Deno.exit(1);

/**
 * Runs the MCP server (`deno task start`): on 127.0.0.1, notes in an
 * embedded SQLite file, `web_search` enabled when `TAVILY_API_KEY` is set.
 *
 * Environment: `MCP_PORT` (default 8080), `MCP_HOST` (default 127.0.0.1; a
 * public address also needs `LUNET_ALLOW_PUBLIC=1`), `MCP_DB` (default
 * `mcp_notes.db`), `MCP_SESSION_TTL` (ms), `TAVILY_API_KEY`,
 * `TAVILY_API_URL`. SIGINT or SIGTERM shuts it down gracefully.
 *
 * @example
 * ```sh
 * MCP_PORT=8080 deno task start
 * # SSE transport:             http://127.0.0.1:8080/sse
 * # Streamable HTTP transport: http://127.0.0.1:8080/mcp
 * ```
 * @module
 */
import * as sqlite from "../../drivers/sqlite.ts";
import { readEnv } from "../../src/env.ts";
import * as signal from "../../src/signal.ts";
import { startMcpServer } from "./server.ts";
import { createTools, webSearchFromEnv } from "./toolset.ts";

const smoke = Deno.args.includes("--smoke");
const host = readEnv("MCP_HOST") || "127.0.0.1";
const port = Number(readEnv("MCP_PORT") || (smoke ? 0 : 8080));
const dbPath = readEnv("MCP_DB") ||
  (smoke ? Deno.makeTempFileSync({ suffix: ".db" }) : "mcp_notes.db");
const ttl = readEnv("MCP_SESSION_TTL");

const db = await sqlite.open({ path: dbPath, readers: 1 });
const webSearch = webSearchFromEnv();
const server = await startMcpServer({
  host,
  port,
  tools: await createTools({ db, webSearch }),
  sessionTtl: ttl ? Number(ttl) : undefined,
});
console.log(
  `lunet MCP server on http://${host}:${server.port} — SSE: /sse, Streamable HTTP: /mcp; ` +
    `notes in ${dbPath}; web_search ${
      webSearch ? `via ${webSearch.endpoint}` : "off (no TAVILY_API_KEY)"
    }`,
);

if (smoke) {
  // Self-check for `deno task examples`: one initialize and tools/list, then exit.
  const rpc = (id: number, method: string, params: unknown = {}) =>
    fetch(`http://${host}:${server.port}/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
    });
  const init = await rpc(1, "initialize", {
    protocolVersion: "2025-03-26",
    capabilities: {},
    clientInfo: { name: "smoke", version: "1" },
  });
  const session = init.headers.get("mcp-session-id");
  await init.body?.cancel();
  const list = await fetch(`http://${host}:${server.port}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json",
      "mcp-session-id": session ?? "",
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
  });
  const { result } = await list.json();
  console.log(
    `smoke: session ${session}, tools: ${result.tools.map((t: { name: string }) => t.name)}`,
  );
  await server.close();
  await db.close();
  Deno.removeSync(dbPath);
  Deno.exit(result.tools.length > 0 ? 0 : 1);
}

console.log(`stopping on SIG${await signal.wait(["INT", "TERM"])}`);
await server.close();
await db.close();

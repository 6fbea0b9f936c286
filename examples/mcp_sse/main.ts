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
import { startMcpServer } from "./server.ts";
import { createTools, webSearchFromEnv } from "./toolset.ts";

const host = readEnv("MCP_HOST") || "127.0.0.1";
const port = Number(readEnv("MCP_PORT") || 8080);
const dbPath = readEnv("MCP_DB") || "mcp_notes.db";
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

const stop = Promise.withResolvers<string>();
const signals = ["SIGINT", "SIGTERM"] as const;
const handlers = signals.map((name) => {
  const handler = () => stop.resolve(name);
  Deno.addSignalListener(name, handler);
  return handler;
});
console.log(`stopping on ${await stop.promise}`);
signals.forEach((name, i) => Deno.removeSignalListener(name, handlers[i]));
await server.close();
await db.close();

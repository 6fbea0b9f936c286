/**
 * Runs the MCP server (`deno task start`): on 127.0.0.1, notes in an
 * embedded SQLite file, `web_search` enabled when `TAVILY_API_KEY` is set,
 * the conformance suite's fixtures too with `MCP_CONFORMANCE=1`.
 *
 * Environment: `MCP_PORT` (default 8080), `MCP_HOST` (default 127.0.0.1; a
 * public address also needs `LUNET_ALLOW_PUBLIC=1`), `MCP_DB` (default
 * `mcp_notes.db`), `MCP_SESSION_TTL` (ms), `MCP_CONFORMANCE`,
 * `MCP_STATE_SECRET`, `TAVILY_API_KEY`, `TAVILY_API_URL`, `MCP_REDIS_URL` (sessions,
 * stream events and routing shared with every instance on that Redis: see
 * docs/scaling.md). SIGINT or SIGTERM shuts it down gracefully.
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
import * as signal from "../../src/signal.ts";
import { createCatalog } from "./catalog.ts";
import { startMcpServer } from "./server.ts";
import { readEnv, readSettings } from "./settings.ts";

const smoke = Deno.args.includes("--smoke");
const settings = readSettings(smoke ? 0 : 8080);
const { host } = settings;
const dbPath = settings.dbPath ??
  (smoke ? Deno.makeTempFileSync({ suffix: ".db" }) : "mcp_notes.db");

// One connection for the notes (a small file): reads share the writer's. On the ffi engine they
// run inline within SQLite's 2 ms budget; on the worker engine (no --allow-ffi) a reader would
// cost another isolate (≈ 12 MiB) for no gain at this size.
const db = await sqlite.open({ path: dbPath, readers: 0 });
const catalog = await createCatalog({
  db,
  webSearch: settings.webSearch,
  conformance: settings.conformance,
});
const redisUrl = readEnv("MCP_REDIS_URL");
// Loaded only when asked for: the Redis driver is an npm package.
const shared = redisUrl
  ? await (await import("./redis_sessions.ts")).SharedState.open(redisUrl, {
    ttl: settings.sessionTtl,
  })
  : undefined;
const server = await startMcpServer({
  shared,
  host,
  port: settings.port,
  ...catalog,
  sessionTtl: settings.sessionTtl,
  stateSecret: settings.stateSecret,
});
console.log(
  `lunet MCP server on http://${host}:${server.port} — SSE: /sse, Streamable HTTP: /mcp; ` +
    `notes in ${dbPath}; web_search ${
      settings.webSearch ? `via ${settings.webSearch.endpoint}` : "off (no TAVILY_API_KEY)"
    }${settings.conformance ? "; conformance fixtures on" : ""}${
      shared ? `; sessions shared on ${redisUrl}, instance ${shared.instance}` : ""
    }`,
);

if (smoke) {
  // Self-check for `deno task examples`: initialize and tools/list, server/discover, then exit.
  const rpc = (body: unknown, session?: string) =>
    fetch(`http://${host}:${server.port}/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...(session ? { "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" } : {}),
      },
      body: JSON.stringify(body),
    });
  const init = await rpc({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "smoke", version: "1" },
    },
  });
  const session = init.headers.get("mcp-session-id") ?? "";
  await init.body?.cancel();
  const list = await rpc({ jsonrpc: "2.0", id: 2, method: "tools/list" }, session);
  const { result } = await list.json();
  // The stateless revision on the same endpoint: no session, the version in every request.
  const discover = await fetch(`http://${host}:${server.port}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "server/discover",
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 3,
      method: "server/discover",
      params: {
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientCapabilities": {},
        },
      },
    }),
  });
  const versions: string[] = (await discover.json()).result?.supportedVersions ?? [];
  console.log(
    `smoke: session ${session}, tools: ${result.tools.map((t: { name: string }) => t.name)}; ` +
      `server/discover: ${versions.join(", ")}`,
  );
  await server.close();
  await db.close();
  Deno.removeSync(dbPath);
  Deno.exit(result.tools.length > 0 && versions.includes("2026-07-28") ? 0 : 1);
}

console.log(`stopping on SIG${await signal.wait(["INT", "TERM"])}`);
await server.close();
await shared?.close();
await db.close();

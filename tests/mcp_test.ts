// deno-lint-ignore-file no-import-prefix -- the MCP SDK is a test-only package, kept out of the import map
import assert from "node:assert/strict";
import { Client } from "npm:@modelcontextprotocol/sdk@^1.29/client/index.js";
import { SSEClientTransport } from "npm:@modelcontextprotocol/sdk@^1.29/client/sse.js";
import { StreamableHTTPClientTransport } from "npm:@modelcontextprotocol/sdk@^1.29/client/streamableHttp.js";
import { spawn } from "../mod.ts";
import { connect as connectSocket } from "../src/socket.ts";
import * as sqlite from "../drivers/sqlite.ts";
import {
  INVALID_PARAMS,
  INVALID_REQUEST,
  METHOD_NOT_FOUND,
  PARSE_ERROR,
  parseBody,
  type RpcResponse,
} from "../examples/mcp_sse/jsonrpc.ts";
import { McpProtocol } from "../examples/mcp_sse/protocol.ts";
import { type McpServer, startMcpServer } from "../examples/mcp_sse/server.ts";
import { createCatalog } from "../examples/mcp_sse/catalog.ts";
import { ToolRegistry } from "../examples/mcp_sse/registry.ts";
import { Session, SessionStore } from "../examples/mcp_sse/sessions.ts";
import { NotesStore } from "../examples/mcp_sse/notes/store.ts";
import { notesTools } from "../examples/mcp_sse/notes/tools.ts";
import { httpFetchTool } from "../examples/mcp_sse/tools/http_fetch.ts";
import { webSearchTool } from "../examples/mcp_sse/tools/web_search.ts";
import * as httpc from "../src/httpc.ts";
import { noLeaks } from "./leak.ts";

const INFO = { name: "lunet-mcp-test", version: "0.0.0" };
const NOTE_TOOLS = ["notes_add", "notes_search", "notes_list", "notes_update", "notes_delete"];

/** A local stand-in for the Tavily search API and a page for http_fetch. */
function standIn(): { base: string; searches: unknown[]; close(): Promise<void> } {
  const searches: unknown[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/search" && req.method === "POST") {
      if (req.headers.get("authorization") !== "Bearer test-key") {
        return Response.json({ detail: { error: "Unauthorized: missing or invalid API key." } }, {
          status: 401,
        });
      }
      const body = await req.json();
      searches.push(body);
      return Response.json({
        query: body.query,
        answer: `About ${body.query}`,
        results: [
          { title: "First hit", url: "https://example.org/1", content: "one", score: 0.9 },
          { title: "Second hit", url: "https://example.org/2", content: "two", score: 0.8 },
        ].slice(0, body.max_results),
      });
    }
    if (url.pathname === "/page") {
      return new Response("<h1>local page</h1>", { headers: { "content-type": "text/html" } });
    }
    if (url.pathname === "/slow") {
      await new Promise((r) => setTimeout(r, 500));
      return new Response("slow");
    }
    return new Response("missing", { status: 404 });
  });
  return {
    base: `http://127.0.0.1:${server.addr.port}`,
    searches,
    close: () => server.shutdown(),
  };
}

function call(mcp: McpProtocol, session: Session, message: unknown): Promise<RpcResponse> {
  return mcp.handle(message, session).then((h) => h.body as RpcResponse);
}

function errorCode(reply: RpcResponse): number | undefined {
  return "error" in reply ? reply.error.code : undefined;
}

function resultOf<T>(reply: RpcResponse): T {
  assert.ok("result" in reply, JSON.stringify(reply));
  return reply.result as T;
}

interface CallResult {
  content: { type: string; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

Deno.test(
  "MCP protocol layer",
  noLeaks(async (t) => {
    const db = await sqlite.open(":memory:");
    const site = standIn();
    try {
      const tools = new ToolRegistry([
        ...notesTools(await NotesStore.open(db)),
        httpFetchTool({ timeout: 5000 }),
        webSearchTool({ apiKey: "test-key", endpoint: `${site.base}/search` }),
      ]);
      const mcp = new McpProtocol(tools, INFO);
      const session = new Session("streamable");

      await t.step("JSON-RPC errors: malformed JSON, invalid request, unknown method", async () => {
        const bad = parseBody("{not json");
        assert.ok("error" in bad);
        assert.equal(errorCode(bad.error), PARSE_ERROR);
        assert.equal(bad.error.id, null);
        assert.deepEqual(parseBody("[1]"), { value: [1] });
        assert.equal(
          errorCode(await call(mcp, session, { id: 1, method: "ping" })),
          INVALID_REQUEST,
        );
        assert.equal(errorCode(await call(mcp, session, [])), INVALID_REQUEST);
        assert.equal(
          errorCode(await call(mcp, session, { jsonrpc: "2.0", id: 2, method: 5 })),
          INVALID_REQUEST,
        );
        const unknown = await call(mcp, session, { jsonrpc: "2.0", id: 3, method: "nope/x" });
        assert.equal(errorCode(unknown), METHOD_NOT_FOUND);
        assert.equal(unknown.id, 3);
      });

      await t.step("initialize negotiates the version; notifications get no reply", async () => {
        const init = resultOf<
          { protocolVersion: string; serverInfo: unknown; capabilities: unknown }
        >(
          await call(mcp, session, {
            jsonrpc: "2.0",
            id: 1,
            method: "initialize",
            params: {
              protocolVersion: "2024-11-05",
              capabilities: {},
              clientInfo: { name: "t", version: "1" },
            },
          }),
        );
        assert.equal(init.protocolVersion, "2024-11-05");
        assert.deepEqual(init.serverInfo, INFO);
        assert.deepEqual(init.capabilities, {
          tools: { listChanged: true },
          resources: { subscribe: true, listChanged: true },
          prompts: { listChanged: true },
          logging: {},
        });
        assert.deepEqual(session.client, { name: "t", version: "1" });
        const future = resultOf<{ protocolVersion: string }>(
          await call(mcp, new Session("streamable"), {
            jsonrpc: "2.0",
            id: 1,
            method: "initialize",
            params: { protocolVersion: "2099-01-01", capabilities: {} },
          }),
        );
        assert.equal(future.protocolVersion, "2025-11-25");
        const note = await mcp.handle(
          { jsonrpc: "2.0", method: "notifications/initialized" },
          session,
        );
        assert.deepEqual(note, { body: undefined, hadRequests: false });
        assert.equal(session.initialized, true);
        assert.equal(
          errorCode(
            await call(mcp, new Session("sse"), {
              jsonrpc: "2.0",
              id: 9,
              method: "initialize",
              params: {},
            }),
          ),
          INVALID_PARAMS,
        );
        const again = await call(mcp, session, {
          jsonrpc: "2.0",
          id: 10,
          method: "initialize",
          params: { protocolVersion: "2025-06-18", capabilities: {} },
        });
        assert.equal(errorCode(again), INVALID_REQUEST, "a session is initialized once");
        assert.equal(session.protocolVersion, "2024-11-05");
      });

      await t.step("ping, batches and tools/list", async () => {
        assert.deepEqual(await call(mcp, session, { jsonrpc: "2.0", id: "p", method: "ping" }), {
          jsonrpc: "2.0",
          id: "p",
          result: {},
        });
        const batch = await mcp.handle([
          { jsonrpc: "2.0", id: 1, method: "ping" },
          { jsonrpc: "2.0", method: "notifications/initialized" },
          { jsonrpc: "2.0", id: 2, method: "tools/list" },
        ], session);
        const replies = batch.body as RpcResponse[];
        assert.deepEqual(replies.map((r) => r.id), [1, 2]);
        const { tools: listed } = resultOf<{ tools: { name: string; inputSchema: unknown }[] }>(
          replies[1],
        );
        assert.deepEqual(listed.map((x) => x.name), [...NOTE_TOOLS, "http_fetch", "web_search"]);
        assert.ok(listed.every((x) => !("call" in x) && typeof x.inputSchema === "object"));
      });

      const callTool = (name: string, args: unknown, id: number | string = name) =>
        call(mcp, session, {
          jsonrpc: "2.0",
          id,
          method: "tools/call",
          params: { name, arguments: args },
        });

      await t.step("notes tools on SQLite", async () => {
        session.protocolVersion = "2025-11-25"; // structured results
        const added = resultOf<CallResult>(
          await callTool("notes_add", {
            title: "Groceries",
            body: "milk, 100% cocoa",
            tags: " home , list ",
          }),
        );
        assert.equal(added.structuredContent?.id, 1);
        resultOf(await callTool("notes_add", { title: "Work", body: "ship lunet" }));
        const found = resultOf<CallResult>(await callTool("notes_search", { query: "100%" }));
        assert.match(found.content[0].text, /#1 Groceries \[home,list\]/);
        assert.equal((found.structuredContent?.notes as unknown[]).length, 1);
        const byTag = resultOf<CallResult>(await callTool("notes_search", { query: "HOME" }));
        assert.equal((byTag.structuredContent?.notes as unknown[]).length, 1);
        const none = resultOf<CallResult>(await callTool("notes_search", { query: "_" }));
        assert.match(none.content[0].text, /No note matches/);
        const list = resultOf<CallResult>(await callTool("notes_list", {}));
        assert.deepEqual((list.structuredContent?.notes as { id: number }[]).map((n) => n.id), [
          2,
          1,
        ]);
      });

      await t.step(
        "bad tool arguments are isError results (SEP-1303); an unknown tool is an error",
        async () => {
          for (
            const [name, args, why] of [
              ["notes_add", { title: "x" }, "body: required"],
              ["notes_list", { limit: 0 }, "limit: less than 1"],
              ["notes_list", { extra: 1 }, "extra: unknown argument"],
              ["notes_search", { query: 5 }, "query: expected a string"],
              ["notes_list", [1], "arguments must be an object"],
            ] as const
          ) {
            const res = resultOf<CallResult>(await callTool(name, args));
            assert.equal(res.isError, true);
            assert.match(
              res.content[0].text,
              new RegExp(`^Invalid arguments for ${name}: .*${why}`),
            );
          }
          assert.equal(errorCode(await callTool("no_such_tool", {})), INVALID_PARAMS);
        },
      );

      await t.step("http_fetch over lunet/httpc", async () => {
        const page = resultOf<CallResult>(
          await callTool("http_fetch", { url: `${site.base}/page` }),
        );
        assert.equal(page.isError, undefined);
        assert.match(
          page.content[0].text,
          /^HTTP 200 .*\/page\ncontent-type: text\/html\n\n<h1>local page<\/h1>$/,
        );
        const missing = resultOf<CallResult>(
          await callTool("http_fetch", { url: `${site.base}/x`, maxChars: 3 }),
        );
        assert.match(
          missing.content[0].text,
          /^HTTP 404[^]*\n\nmis\n… \(cut at 3 characters of 7 bytes\)$/,
        );
        const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const closed = `http://127.0.0.1:${listener.addr.port}/`;
        listener.close();
        const refused = resultOf<CallResult>(await callTool("http_fetch", { url: closed }));
        assert.equal(refused.isError, true);
        assert.equal(
          refused.content[0].text,
          `http_fetch failed: GET ${closed}: connection refused`,
        );
      });

      await t.step("web_search against a local stand-in of the API", async () => {
        const res = resultOf<CallResult>(
          await callTool("web_search", { query: "lunet", max_results: 1 }),
        );
        assert.match(
          res.content[0].text,
          /^Answer: About lunet\n\n1\. First hit\n {3}https:\/\/example.org\/1\n {3}one$/,
        );
        assert.deepEqual(site.searches.at(-1), {
          query: "lunet",
          max_results: 1,
          search_depth: "basic",
          include_answer: true,
        });
        const denied = resultOf<CallResult>(
          await call(
            new McpProtocol(
              new ToolRegistry([
                webSearchTool({ apiKey: "wrong", endpoint: `${site.base}/search` }),
              ]),
              INFO,
            ),
            session,
            {
              jsonrpc: "2.0",
              id: 1,
              method: "tools/call",
              params: { name: "web_search", arguments: { query: "q" } },
            },
          ),
        );
        assert.equal(denied.isError, true);
        assert.match(denied.content[0].text, /HTTP 401: Unauthorized/);
      });

      await t.step(
        "notifications/cancelled cancels a running tool call, which gets no reply",
        async () => {
          const running = spawn(() => callTool("http_fetch", { url: `${site.base}/slow` }, 77));
          for (let i = 0; i < 100 && !session.inflight.has(77); i++) {
            await new Promise((r) => setTimeout(r, 5));
          }
          assert.ok(session.inflight.has(77));
          await mcp.handle(
            { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 77 } },
            session,
          );
          assert.equal(await running, undefined);
          assert.equal(session.inflight.size, 0);
        },
      );
    } finally {
      await db.close();
      await site.close();
    }
  }),
);

Deno.test(
  "MCP sessions expire",
  noLeaks(async (t) => {
    await t.step("idle sessions are swept, active ones kept", () => {
      const store = new SessionStore({ ttl: 1000 });
      const idle = store.create("streamable")!;
      const active = store.create("sse")!;
      idle.lastSeen -= 5000;
      assert.equal(store.get(idle.id), undefined, "an expired session is not found");
      assert.equal(idle.closed, true);
      const stale = store.create("streamable")!;
      assert.equal(store.sweep(Date.now() + 500), 0);
      assert.equal(store.sweep(Date.now() + 1500), 2);
      assert.equal(active.closed, true);
      assert.equal(active.outbox?.closed, true, "an SSE session's stream ends with it");
      assert.equal(stale.closed, true);
      assert.equal(store.size, 0);
    });

    await t.step("capacity is bounded", () => {
      const store = new SessionStore({ maxSessions: 2 });
      assert.ok(store.create("sse"));
      assert.ok(store.create("sse"));
      assert.equal(store.create("sse"), undefined);
      store.close();
      assert.equal(store.size, 0);
    });

    await t.step("the sweeper task runs until cancelled", async () => {
      const store = new SessionStore({ ttl: 20 });
      store.create("streamable");
      const sweeper = spawn(() => store.runSweeper(10));
      for (let i = 0; i < 100 && store.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(store.size, 0);
      sweeper.cancel();
      await Promise.resolve(sweeper).catch(() => {});
    });
  }),
);

// --- The server over HTTP, driven by the official MCP SDK client ---

type Kind = "sse" | "streamable";

/**
 * Connects the official SDK client. The SDK always asks for its newest
 * protocol version; `version` rewrites its `initialize` to ask for another.
 */
async function connect(
  server: McpServer,
  kind: Kind,
  name = `test-${kind}`,
  version?: string,
): Promise<Client> {
  const base = `http://127.0.0.1:${server.port}`;
  const client = new Client({ name, version: "1.0.0" });
  const transport = kind === "sse"
    ? new SSEClientTransport(new URL(`${base}/sse`))
    : new StreamableHTTPClientTransport(new URL(`${base}/mcp`));
  if (version) {
    const send = transport.send.bind(transport);
    transport.send = (message: any, opts?: any) => {
      const m = message as { method?: string; params?: Record<string, unknown> };
      if (m.method === "initialize") m.params = { ...m.params, protocolVersion: version };
      return send(message, opts);
    };
  }
  await client.connect(transport);
  return client;
}

/** Ends the client's session (a Streamable HTTP client only does so when asked), then closes it. */
async function disconnect(client: Client): Promise<void> {
  const transport = client.transport;
  if (transport instanceof StreamableHTTPClientTransport) await transport.terminateSession();
  await client.close();
}

function textOf(result: unknown): string {
  return (result as CallResult).content.map((c) => c.text).join("\n");
}

async function withServer(
  fn: (server: McpServer, site: ReturnType<typeof standIn>) => Promise<void>,
  opts: { sessionTtl?: number } = {},
): Promise<void> {
  const db = await sqlite.open(":memory:");
  const site = standIn();
  const catalog = await createCatalog({
    db,
    webSearch: { apiKey: "test-key", endpoint: `${site.base}/search` },
  });
  const server = await startMcpServer({ port: 0, ...catalog, heartbeat: 1000, ...opts });
  try {
    await fn(server, site);
  } finally {
    await server.close();
    await site.close();
    await db.close();
  }
}

Deno.test(
  "MCP server with the official SDK client",
  noLeaks(async (t) => {
    await withServer(async (server, site) => {
      const matrix = [
        ["sse", "2024-11-05"],
        ["sse", "2025-11-25"],
        ["streamable", "2025-03-26"],
        ["streamable", "2025-06-18"],
        ["streamable", "2025-11-25"],
      ] as const;
      for (const [kind, version] of matrix) {
        await t.step(`${kind} ${version}: connect, list tools and call each tool`, async () => {
          const client = await connect(server, kind, `test-${kind}`, version);
          try {
            assert.equal(client.getServerVersion()?.name, "lunet-mcp-sse");
            const structured = version >= "2025-06-18";
            await client.ping();
            const { tools } = await client.listTools();
            assert.deepEqual(tools.map((x: { name: string }) => x.name), [
              ...NOTE_TOOLS,
              "http_fetch",
              "web_search",
            ]);
            assert.equal("outputSchema" in tools[0], structured);
            const added = await client.callTool({
              name: "notes_add",
              arguments: { title: `from ${kind}`, body: "written through the SDK", tags: kind },
            });
            assert.match(textOf(added), new RegExp(`^Added note #\\d+: from ${kind}\n`));
            assert.equal("structuredContent" in added, structured);
            const linked = (added.content as { type: string }[]).some((c) =>
              c.type === "resource_link"
            );
            assert.equal(linked, structured);
            const found = await client.callTool({
              name: "notes_search",
              arguments: { query: kind },
            });
            assert.match(textOf(found), new RegExp(`from ${kind} \\[${kind}\\]`));
            const listed = await client.callTool({ name: "notes_list", arguments: {} });
            assert.match(textOf(listed), /written through the SDK/);
            const page = await client.callTool({
              name: "http_fetch",
              arguments: { url: `${site.base}/page` },
            });
            assert.match(textOf(page), /<h1>local page<\/h1>/);
            const search = await client.callTool({
              name: "web_search",
              arguments: { query: kind },
            });
            assert.match(textOf(search), new RegExp(`^Answer: About ${kind}`));
            const bad = await client.callTool({ name: "notes_add", arguments: { title: 1 } });
            assert.equal(bad.isError, true);
            assert.match(textOf(bad), /^Invalid arguments for notes_add/);
          } finally {
            await disconnect(client);
          }
        });
      }

      await t.step("closed clients leave no session behind", async () => {
        for (let i = 0; i < 300 && server.sessions.size > 0; i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(server.sessions.size, 0, `${server.sessions.size} sessions left`);
      });
    });
  }),
);

Deno.test(
  "MCP server: 20 concurrent clients × 10 calls",
  noLeaks(async (t) => {
    await withServer(async (server) => {
      await t.step("half on each transport, every call answered", async () => {
        const clients = await Promise.all(
          Array.from(
            { length: 20 },
            (_, i) => connect(server, i % 2 ? "sse" : "streamable", `c${i}`),
          ),
        );
        try {
          await Promise.all(clients.map(async (client: Client, i: number) => {
            for (let j = 0; j < 10; j++) {
              const res = await client.callTool({
                name: "notes_add",
                arguments: { title: `c${i}-${j}`, body: "load" },
              });
              assert.match(textOf(res), new RegExp(`: c${i}-${j}\n`));
            }
          }));
          const all = await clients[0].callTool({ name: "notes_list", arguments: { limit: 100 } });
          assert.equal((all.structuredContent as { notes: unknown[] }).notes.length, 100);
        } finally {
          await Promise.all(clients.map(disconnect));
        }
      });
    });
  }),
);

// --- The HTTP surface, driven by lunet/httpc ---

Deno.test(
  "MCP server HTTP surface",
  noLeaks(async (t) => {
    await withServer(async (server) => {
      const base = `http://127.0.0.1:${server.port}`;
      const jsonHeaders = {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      };
      const post = (body: unknown, headers: Record<string, string> = {}) =>
        httpc.post(`${base}/mcp`, typeof body === "string" ? body : JSON.stringify(body), {
          headers: { ...jsonHeaders, ...headers },
        });
      const initialize = {
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocolVersion: "2025-06-18",
          capabilities: {},
          clientInfo: { name: "raw", version: "1" },
        },
      };

      await t.step("status page", async () => {
        const res = await httpc.requestJson<{ name: string; tools: string[] }>(base);
        assert.equal(res.data?.name, "lunet-mcp-sse");
        assert.equal(res.data?.tools.length, 7);
      });

      await t.step("CORS preflight and the origin check", async () => {
        const pre = await httpc.request({
          url: `${base}/mcp`,
          method: "OPTIONS",
          headers: { origin: "http://localhost:6274", "access-control-request-method": "POST" },
        });
        assert.equal(pre.status, 204);
        assert.equal(pre.headers.get("access-control-allow-origin"), "http://localhost:6274");
        assert.match(pre.headers.get("access-control-allow-headers")!, /mcp-session-id/);
        assert.match(pre.headers.get("access-control-allow-methods")!, /POST/);
        const evil = await post(initialize, { origin: "http://evil.example" });
        assert.equal(evil.status, 403);
      });

      await t.step("Streamable HTTP: errors", async () => {
        const malformed = await post("{oops");
        assert.equal(malformed.status, 400);
        assert.equal(malformed.json<{ error: { code: number } }>().error.code, PARSE_ERROR);
        assert.equal((await post({ jsonrpc: "2.0", id: 1, method: "ping" })).status, 400);
        assert.equal(
          (await post({ jsonrpc: "2.0", id: 1, method: "ping" }, { "mcp-session-id": "nope" }))
            .status,
          404,
        );
        assert.equal((await post(initialize, { "content-type": "text/plain" })).status, 415);
        assert.equal(
          (await post(initialize, { "mcp-protocol-version": "1999-01-01" })).status,
          400,
        );
        assert.equal((await httpc.get(`${base}/mcp`)).status, 400, "GET without a session");
        const put = await httpc.request({ url: `${base}/mcp`, method: "PUT" });
        assert.equal(put.status, 405);
        assert.match(put.headers.get("allow")!, /POST/);
        assert.equal((await httpc.get(`${base}/nowhere`)).status, 404);
      });

      await t.step("Streamable HTTP: a session from initialize to DELETE", async () => {
        const init = await post(initialize);
        assert.equal(init.status, 200);
        const sid = init.headers.get("mcp-session-id")!;
        assert.match(sid, /^[0-9a-f-]{36}$/);
        const headers = { "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18" };
        const note = await post({ jsonrpc: "2.0", method: "notifications/initialized" }, headers);
        assert.equal(note.status, 202);
        assert.equal(note.text(), "");
        const reinit = await post({ ...initialize, id: 20 }, headers);
        assert.equal(reinit.status, 400, "a session is initialized once");
        assert.deepEqual(
          reinit.json<{ id: unknown; error: { code: number } }>().error.code,
          INVALID_REQUEST,
        );
        assert.equal(reinit.json<{ id: unknown }>().id, 20);
        const unknown = await post({ jsonrpc: "2.0", id: 2, method: "nope/x" }, headers);
        assert.equal(unknown.status, 200);
        assert.equal(unknown.json<{ error: { code: number } }>().error.code, METHOD_NOT_FOUND);
        const list = await post({ jsonrpc: "2.0", id: 3, method: "tools/list" }, headers);
        assert.equal(list.headers.get("content-type"), "application/json");
        const call = await post({
          jsonrpc: "2.0",
          id: 4,
          method: "tools/call",
          params: { name: "notes_list", arguments: {} },
        }, headers);
        assert.equal(call.headers.get("content-type"), "text/event-stream");
        assert.match(
          call.text(),
          /^event: message\nid: 1_1\ndata: \{"jsonrpc":"2.0","id":4,"result":\{"content"/,
        );
        const jsonOnly = await post({
          jsonrpc: "2.0",
          id: 5,
          method: "tools/call",
          params: { name: "notes_list", arguments: {} },
        }, { ...headers, accept: "application/json" });
        assert.equal(jsonOnly.json<{ id: number }>().id, 5);
        const del = await httpc.request({ url: `${base}/mcp`, method: "DELETE", headers });
        assert.equal(del.status, 204);
        const again = await httpc.request({ url: `${base}/mcp`, method: "DELETE", headers });
        assert.equal(again.status, 404);
        assert.equal((await post({ jsonrpc: "2.0", id: 6, method: "ping" }, headers)).status, 404);
      });

      await t.step("SSE transport: endpoint event, 202 on POST, reply on the stream", async () => {
        const stream = await httpc.stream({
          url: `${base}/sse`,
          headers: { accept: "text/event-stream" },
        });
        try {
          assert.equal(stream.status, 200);
          assert.equal(stream.headers.get("content-type"), "text/event-stream");
          const events = sseEvents(stream);
          const endpoint = await events.next();
          assert.equal(endpoint.value?.event, "endpoint");
          const url = new URL(endpoint.value!.data, base);
          assert.equal(url.pathname, "/message");
          assert.equal(server.sessions.size, 1);
          const bad = await httpc.post(url, "{oops");
          assert.equal(bad.status, 400);
          const accepted = await httpc.post(
            url,
            JSON.stringify({ jsonrpc: "2.0", id: 7, method: "ping" }),
          );
          assert.equal(accepted.status, 202);
          const reply = await events.next();
          assert.equal(reply.value?.event, "message");
          assert.deepEqual(JSON.parse(reply.value!.data), { jsonrpc: "2.0", id: 7, result: {} });
          const missing = await httpc.post(`${base}/message?sessionId=nope`, "{}");
          assert.equal(missing.status, 404);
        } finally {
          stream.close();
        }
        // A client's close is noticed at once when it resets the connection,
        // else by the next heartbeat (1 s here), whose write draws the reset.
        for (let i = 0; i < 300 && server.sessions.size > 0; i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(server.sessions.size, 0, "the session ends with its stream");
      });

      await t.step(
        "SSE transport: a client closing its socket ends the session at once",
        async () => {
          // The client's FIN is the signal here, not a heartbeat write.
          const conn = await connectSocket("127.0.0.1", server.port);
          let seen = "";
          const until = async (pattern: RegExp): Promise<RegExpMatchArray> => {
            for (;;) {
              const match = seen.match(pattern);
              if (match) return match;
              const chunk = await conn.read({ timeout: 5_000 });
              assert.ok(chunk, `the stream ended before ${pattern}: ${JSON.stringify(seen)}`);
              seen += new TextDecoder().decode(chunk);
            }
          };
          try {
            await conn.write(
              "GET /sse HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n",
            );
            const [, path] = await until(/event: endpoint\ndata: (\S+)\n\n/);
            assert.equal(server.sessions.size, 1);
            const accepted = await httpc.post(
              `${base}${path}`,
              JSON.stringify({ jsonrpc: "2.0", id: 8, method: "ping" }),
            );
            assert.equal(accepted.status, 202);
            await until(/"id":8/);
          } finally {
            conn.close();
          }
          for (let i = 0; i < 100 && server.sessions.size > 0; i++) {
            await new Promise((r) => setTimeout(r, 10));
          }
          assert.equal(server.sessions.size, 0, "the session ends with the connection");
        },
      );
    });
  }),
);

Deno.test(
  "MCP server sessions expire over HTTP",
  noLeaks(async (t) => {
    await withServer(async (server) => {
      await t.step("an idle Streamable HTTP session answers 404 after its TTL", async () => {
        const init = await httpc.post(
          `http://127.0.0.1:${server.port}/mcp`,
          JSON.stringify({
            jsonrpc: "2.0",
            id: 1,
            method: "initialize",
            params: { protocolVersion: "2025-06-18", capabilities: {} },
          }),
          { headers: { "content-type": "application/json" } },
        );
        const sid = init.headers.get("mcp-session-id")!;
        await new Promise((r) => setTimeout(r, 300));
        const late = await httpc.post(
          `http://127.0.0.1:${server.port}/mcp`,
          JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" }),
          { headers: { "content-type": "application/json", "mcp-session-id": sid } },
        );
        assert.equal(late.status, 404);
        assert.equal(server.sessions.size, 0);
      });
    }, { sessionTtl: 150 });
  }),
);

/** Parses an event stream read through lunet/httpc into events. */
async function* sseEvents(
  stream: httpc.HttpcStream,
): AsyncGenerator<{ event: string; data: string }, void, undefined> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of stream) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end; (end = buffer.indexOf("\n\n")) !== -1;) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      if (data.length) yield { event, data: data.join("\n") };
    }
  }
}

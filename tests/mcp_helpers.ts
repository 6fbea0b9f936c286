// deno-lint-ignore-file no-import-prefix -- the MCP SDK is a test-only package, kept out of the import map
/**
 * Helpers of the MCP suites: a server on an in-memory notes database with
 * the conformance fixtures and extra test tools, the official SDK client
 * connected to it, raw Streamable HTTP exchanges (fetch) with an
 * event-stream reader, and requests of the stateless revision with the
 * headers a conforming client sends.
 */
import { Client } from "npm:@modelcontextprotocol/sdk@^1.29/client/index.js";
import { StreamableHTTPClientTransport } from "npm:@modelcontextprotocol/sdk@^1.29/client/streamableHttp.js";
import { Cancelled, sleep } from "../mod.ts";
import * as sqlite from "../drivers/sqlite.ts";
import { createCatalog, type ServerCatalog } from "../examples/mcp_sse/catalog.ts";
import type { Tool } from "../examples/mcp_sse/registry.ts";
import {
  type McpServer,
  type McpServerOptions,
  startMcpServer,
} from "../examples/mcp_sse/server.ts";

/** What the test tools saw. */
export interface Probe {
  /** `sleepy` calls that were cancelled. */
  cancelled: number;
  /** `sleepy` calls started. */
  started: number;
}

/**
 * Test tools: `sleepy` (waits until cancelled or released), `roots_probe`,
 * `url_elicit`, `ask_twice` (asks the user, then the model with the answer).
 */
function testTools(probe: Probe): Tool[] {
  const none = { type: "object" as const, properties: {} };
  return [
    {
      name: "sleepy",
      description: "Waits up to 10 s, counting cancellations.",
      inputSchema: none,
      async call() {
        probe.started++;
        try {
          await sleep(10_000);
        } catch (err) {
          if (err instanceof Cancelled) probe.cancelled++;
          throw err;
        }
        return { content: [{ type: "text", text: "slept" }] };
      },
    },
    {
      name: "roots_probe",
      description: "Lists the client's roots.",
      inputSchema: none,
      async call(_args, ctx) {
        const roots = await ctx.listRoots({ timeout: 5000 });
        return { content: [{ type: "text", text: roots.map((r) => r.uri).join(",") }] };
      },
    },
    {
      name: "url_elicit",
      description: "Sends the user to a page.",
      inputSchema: none,
      async call(_args, ctx) {
        const answer = await ctx.elicitUrl({
          message: "Sign in",
          url: "https://example.com/sign-in",
          elicitationId: "e-1",
        });
        await ctx.elicitationComplete("e-1");
        return { content: [{ type: "text", text: `action=${answer.action}` }] };
      },
    },
    {
      name: "ask_twice",
      description: "Asks the user for a name, then the model for a greeting.",
      inputSchema: none,
      async call(_args, ctx) {
        const who = await ctx.elicit({
          message: "Your name?",
          requestedSchema: {
            type: "object",
            properties: { name: { type: "string" } },
            required: ["name"],
          },
        });
        const said = await ctx.sample({
          messages: [{
            role: "user",
            content: { type: "text", text: `Greet ${who.content?.name}` },
          }],
          maxTokens: 20,
        }) as { content?: { text?: string } };
        return {
          content: [{ type: "text", text: `${who.content?.name}: ${said.content?.text}` }],
        };
      },
    },
  ];
}

/** A running test server. */
export interface TestServer {
  server: McpServer;
  catalog: ServerCatalog;
  probe: Probe;
  base: string;
  url: string;
}

/** Runs `fn` against a fresh server, then closes everything. */
export async function withMcp(
  fn: (s: TestServer) => Promise<void>,
  opts: Partial<McpServerOptions> = {},
): Promise<void> {
  const db = await sqlite.open(":memory:");
  const catalog = await createCatalog({ db, conformance: true });
  const probe: Probe = { cancelled: 0, started: 0 };
  for (const tool of testTools(probe)) catalog.tools.add(tool);
  const server = await startMcpServer({ port: 0, ...catalog, heartbeat: 1000, retry: 50, ...opts });
  const base = `http://127.0.0.1:${server.port}`;
  try {
    await fn({ server, catalog, probe, base, url: `${base}/mcp` });
  } finally {
    await server.close();
    await db.close();
  }
}

/** The official SDK client on Streamable HTTP, with `capabilities`. */
export async function sdkClient(
  url: string,
  capabilities: Record<string, unknown> = {},
): Promise<{ client: Client; close(): Promise<void> }> {
  const client = new Client({ name: "test", version: "1.0.0" }, { capabilities });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return {
    client,
    async close() {
      await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}

/** A raw Streamable HTTP session opened with fetch. */
export interface RawSession {
  id: string;
  version: string;
  post(body: unknown, headers?: Record<string, string>): Promise<Response>;
  get(headers?: Record<string, string>, signal?: AbortSignal): Promise<Response>;
}

/** Initializes a session at `version` with fetch. */
export async function rawSession(url: string, version = "2025-11-25"): Promise<RawSession> {
  const base = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
  };
  const init = await fetch(url, {
    method: "POST",
    headers: base,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: version,
        capabilities: {},
        clientInfo: { name: "raw", version: "1" },
      },
    }),
  });
  await init.body?.cancel();
  const id = init.headers.get("mcp-session-id")!;
  const session = { "mcp-session-id": id, "mcp-protocol-version": version };
  const s: RawSession = {
    id,
    version,
    post: (body, headers = {}) =>
      fetch(url, {
        method: "POST",
        headers: { ...base, ...session, ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    get: (headers = {}, signal) =>
      fetch(url, { headers: { accept: "text/event-stream", ...session, ...headers }, signal }),
  };
  const note = await s.post({ jsonrpc: "2.0", method: "notifications/initialized" });
  await note.body?.cancel();
  return s;
}

/** One event of an event stream. */
export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
  retry?: number;
}

/** Reads an event stream's events (comments skipped). */
export async function* events(res: Response): AsyncGenerator<SseEvent, void, undefined> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      for (let end; (end = buffer.indexOf("\n\n")) !== -1;) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const ev: SseEvent = { data: "" };
        const data: string[] = [];
        let any = false;
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          any = true;
          if (field === "data") data.push(value);
          else if (field === "id") ev.id = value;
          else if (field === "event") ev.event = value;
          else if (field === "retry") ev.retry = Number(value);
        }
        if (!any) continue;
        ev.data = data.join("\n");
        yield ev;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** Collects events until `until` says stop (or the stream ends). */
export async function collect(
  res: Response,
  until: (ev: SseEvent, all: SseEvent[]) => boolean = () => false,
): Promise<SseEvent[]> {
  const all: SseEvent[] = [];
  for await (const ev of events(res)) {
    all.push(ev);
    if (until(ev, all)) break;
  }
  return all;
}

/** Polls `cond` every 10 ms for up to `ms`. */
export async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 10) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error("condition not met in time");
}

/** The stateless revision. */
export const STATELESS = "2026-07-28";
/** The `_meta` key of the server's identity. */
export const SERVER_INFO = "io.modelcontextprotocol/serverInfo";
/** The `_meta` key of a subscription's id. */
export const SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId";

/** Any JSON object. */
export type Json = Record<string, any>;

/** The `_meta` of a stateless request. */
export function meta(extra: Json = {}, capabilities: Json = {}): Json {
  return {
    "io.modelcontextprotocol/protocolVersion": STATELESS,
    "io.modelcontextprotocol/clientCapabilities": capabilities,
    "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
    ...extra,
  };
}

/** A stateless request body, `_meta` in its params. */
export function statelessRequest(
  id: number,
  method: string,
  params: Json = {},
  m: Json = meta(),
): Json {
  return { jsonrpc: "2.0", id, method, params: { ...params, _meta: m } };
}

/** The headers a conforming stateless client sends with `body`. */
function headersFor(body: Json): Record<string, string> {
  const h: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": STATELESS,
    "mcp-method": body.method,
  };
  const name = body.params?.name ?? body.params?.uri;
  if (["tools/call", "prompts/get", "resources/read"].includes(body.method)) h["mcp-name"] = name;
  return h;
}

/**
 * POSTs a stateless `body` with the right headers, `override` replacing or
 * (`null`) removing some.
 */
export function statelessPost(
  url: string,
  body: Json | string,
  override: Record<string, string | null> = {},
  signal?: AbortSignal,
): Promise<Response> {
  const headers: Record<string, string> = typeof body === "string"
    ? { "content-type": "application/json", "mcp-protocol-version": STATELESS }
    : headersFor(body);
  for (const [k, v] of Object.entries(override)) {
    if (v === null) delete headers[k];
    else headers[k] = v;
  }
  return fetch(url, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal,
  });
}

/** {@linkcode statelessPost}, the reply read as JSON. */
export async function statelessRpc(
  url: string,
  body: Json,
  override: Record<string, string | null> = {},
) {
  const res = await statelessPost(url, body, override);
  return { status: res.status, headers: res.headers, body: await res.json() as Json };
}

/** A stateless `tools/call` body. */
export const statelessCall = (
  id: number,
  name: string,
  args: Json = {},
  m?: Json,
  extra: Json = {},
): Json => statelessRequest(id, "tools/call", { name, arguments: args, ...extra }, m);

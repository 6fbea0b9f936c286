/**
 * The MCP server: both HTTP transports (`/sse` + `/message`, and `/mcp`)
 * on a lunet/http router behind the Host and Origin check and CORS, a
 * session store with its sweeper task, a status page at `/`, and the
 * broadcast of list changes and resource updates to the sessions that
 * want them.
 *
 * @example
 * ```ts ignore
 * import * as sqlite from "../../drivers/sqlite.ts";
 * import { startMcpServer } from "./server.ts";
 * import { createCatalog } from "./catalog.ts";
 * const db = await sqlite.open(":memory:");
 * const server = await startMcpServer({ port: 0, ...await createCatalog({ db }) });
 * console.log(`http://127.0.0.1:${server.port}/mcp`);
 * await server.close();
 * await db.close();
 * ```
 * @module
 */
import { spawn } from "../../mod.ts";
import { Router } from "../../src/http/mod.ts";
import { serve, type Server } from "../../src/http/mod.ts";
import { LUNET_ICON } from "./content.ts";
import { cors } from "./cors.ts";
import type { EventStore } from "./event_store.ts";
import { guard, type GuardOptions } from "./guard.ts";
import type { RpcNotification } from "./jsonrpc.ts";
import { ListChanges } from "./list_changes.ts";
import { Listeners } from "./listen.ts";
import type { PromptRegistry } from "./prompts.ts";
import { McpProtocol, type ServerInfo } from "./protocol.ts";
import type { ToolRegistry } from "./registry.ts";
import type { ResourceRegistry } from "./resources.ts";
import { type Session, type SessionSharing, SessionStore } from "./sessions.ts";
import { addSseTransport } from "./sse_transport.ts";
import { StatelessProtocol } from "./stateless.ts";
import { addStreamableTransport } from "./streamable_transport.ts";

/** What the transports need from the server. */
export interface TransportContext {
  /** The protocol handler. */
  mcp: McpProtocol;
  /** The session store. */
  sessions: SessionStore;
  /** The protocol handler of the stateless revision (2026-07-28). */
  stateless: StatelessProtocol;
  /** The `subscriptions/listen` streams of the stateless revision. */
  listeners: Listeners;
  /** Heartbeat interval of event streams, ms. */
  heartbeat: number;
}

/** Options of {@linkcode startMcpServer}. */
export interface McpServerOptions extends GuardOptions {
  /** The tools offered. */
  tools: ToolRegistry;
  /** The resources offered. */
  resources?: ResourceRegistry;
  /** The prompts offered. */
  prompts?: PromptRegistry;
  /** Host to bind (default `127.0.0.1`). */
  host?: string;
  /** Port (default 8080; 0 picks a free one). */
  port?: number;
  /** Name and version reported by `initialize`. */
  info?: ServerInfo;
  /** A hint for the model, returned by `initialize`. */
  instructions?: string;
  /** Idle time after which a session expires, ms (default 10 minutes). */
  sessionTtl?: number;
  /** Most sessions at once (default 10 000). */
  maxSessions?: number;
  /** Heartbeat comments on event streams, ms (default 15 000). */
  heartbeat?: number;
  /** Largest request body, bytes (default 4 MiB). */
  maxBodyBytes?: number;
  /** Where Streamable HTTP stream events are kept for resumption (default: in memory). */
  eventStore?: EventStore;
  /**
   * Shares Streamable HTTP sessions, their stream events and messages with
   * other instances (`SharedState` of `redis_sessions.ts`); the caller
   * closes it after the server.
   */
  shared?: SessionSharing;
  /** Reconnection delay suggested to clients on event streams, ms (default 1000). */
  retry?: number;
  /**
   * Shortest time between two list-change notifications of one kind, ms
   * (default 50): changes within it are told once, at its end.
   */
  listChangeWindow?: number;
  /**
   * Signs the `requestState` of multi round-trip requests (stateless
   * revision); every instance behind a load balancer needs the same one.
   * Unsigned without it.
   */
  stateSecret?: string;
}

/** A running MCP server. */
export interface McpServer {
  /** The bound port. */
  readonly port: number;
  /** The live sessions. */
  readonly sessions: SessionStore;
  /** The protocol handler, with the registries. */
  readonly mcp: McpProtocol;
  /** The HTTP server underneath. */
  readonly http: Server;
  /** Ends every session, then shuts the HTTP server down. */
  close(): Promise<void>;
}

/** The name and version reported when none are given. */
export const DEFAULT_INFO: ServerInfo = {
  name: "lunet-mcp-sse",
  version: "0.2.0",
  title: "lunet MCP server",
  icons: [LUNET_ICON],
};

/** Starts the MCP server and returns once it listens. */
export async function startMcpServer(opts: McpServerOptions): Promise<McpServer> {
  const info = opts.info ?? DEFAULT_INFO;
  const sessions = new SessionStore({
    ttl: opts.sessionTtl,
    maxSessions: opts.maxSessions,
    eventStore: opts.eventStore,
    retry: opts.retry,
    shared: opts.shared,
  });
  const mcp = new McpProtocol(opts, info, opts.instructions);
  const stateless = new StatelessProtocol(mcp, { stateSecret: opts.stateSecret });
  const listeners = new Listeners();
  const ctx: TransportContext = {
    mcp,
    sessions,
    stateless,
    listeners,
    heartbeat: opts.heartbeat ?? 15_000,
  };
  const router = new Router()
    .use(guard(opts))
    .use(cors())
    .get("/", () => ({
      name: info.name,
      version: info.version,
      transports: { sse: "/sse", streamableHttp: "/mcp" },
      tools: mcp.tools.names,
      sessions: sessions.size,
    }));
  addSseTransport(router, ctx);
  addStreamableTransport(router, ctx);
  const lists = new ListChanges(
    opts.listChangeWindow ?? 50,
    (method) => {
      broadcast(sessions, method);
      listeners.deliver(method);
    },
  );
  const unsubscribe = [
    mcp.tools.onChange(() => lists.notify("notifications/tools/list_changed")),
    mcp.prompts.onChange(() => lists.notify("notifications/prompts/list_changed")),
    mcp.resources.onChange((change) => {
      if (change.kind === "list") lists.notify("notifications/resources/list_changed");
      else {
        resourceUpdated(sessions, change.uri);
        listeners.deliver("notifications/resources/updated", change.uri);
      }
    }),
  ];
  const http = await serve(router, {
    host: opts.host ?? "127.0.0.1",
    port: opts.port ?? 8080,
    maxBodyBytes: opts.maxBodyBytes ?? 4 * 1024 * 1024,
    // JSON replies are compressed when large; event streams are not: they carry small messages
    // one at a time, and compressing and flushing each costs more than it saves.
    compress: { types: compressible },
  });
  const sweeper = spawn(() => sessions.runSweeper(), { name: "mcp session sweeper" });
  let closing: Promise<void> | undefined;
  return {
    port: http.addr.port!,
    sessions,
    mcp,
    http,
    close() {
      return closing ??= (async () => {
        for (const stop of unsubscribe) stop();
        lists.close();
        sweeper.cancel();
        sessions.close();
        stateless.close();
        listeners.close();
        await http.shutdown({ timeout: 5000 });
        await sweeper.then(undefined, () => {});
      })();
    },
  };
}

/** The content types compressed: JSON and text, except event streams. */
function compressible(type: string): boolean {
  return type.startsWith("application/json") ||
    (type.startsWith("text/") && !type.startsWith("text/event-stream"));
}

/** Sends a notification to every initialized session, not waiting for it. */
function broadcast(
  sessions: Iterable<Session>,
  method: string,
  params?: Record<string, unknown>,
  only?: (session: Session) => boolean,
): void {
  const message: RpcNotification = params
    ? { jsonrpc: "2.0", method, params }
    : { jsonrpc: "2.0", method };
  for (const session of sessions) {
    if (!session.initialized || (only && !only(session))) continue;
    session.send(message).catch(() => {}); // a session closing meanwhile drops it
  }
}

function resourceUpdated(sessions: SessionStore, uri: string): void {
  broadcast(
    sessions,
    "notifications/resources/updated",
    { uri },
    (s) => s.subscriptions.has(uri),
  );
}

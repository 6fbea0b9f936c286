/**
 * The MCP server: both HTTP transports (`/sse` + `/message`, and `/mcp`)
 * on a lunet/http router behind the origin check and CORS, a session store
 * with its sweeper task, and a status page at `/`.
 *
 * @example
 * ```ts ignore
 * import * as sqlite from "../../drivers/sqlite.ts";
 * import { startMcpServer } from "./server.ts";
 * import { createTools } from "./toolset.ts";
 * const db = await sqlite.open(":memory:");
 * const server = await startMcpServer({ port: 0, tools: await createTools({ db }) });
 * console.log(`http://127.0.0.1:${server.port}/sse`);
 * await server.close();
 * await db.close();
 * ```
 * @module
 */
import { spawn } from "../../mod.ts";
import { Router } from "../../src/http/mod.ts";
import { serve, type Server } from "../../src/http/mod.ts";
import { cors, type CorsOptions } from "./cors.ts";
import { McpProtocol, type ServerInfo } from "./protocol.ts";
import type { ToolRegistry } from "./registry.ts";
import { SessionStore } from "./sessions.ts";
import { addSseTransport } from "./sse_transport.ts";
import { addStreamableTransport } from "./streamable_transport.ts";

/** What the transports need from the server. */
export interface TransportContext {
  /** The protocol handler. */
  mcp: McpProtocol;
  /** The session store. */
  sessions: SessionStore;
  /** Heartbeat interval of event streams, ms. */
  heartbeat: number;
}

/** Options of {@linkcode startMcpServer}. */
export interface McpServerOptions extends CorsOptions {
  /** The tools offered. */
  tools: ToolRegistry;
  /** Host to bind (default `127.0.0.1`). */
  host?: string;
  /** Port (default 8080; 0 picks a free one). */
  port?: number;
  /** Name and version reported by `initialize`. */
  info?: ServerInfo;
  /** Idle time after which a session expires, ms (default 10 minutes). */
  sessionTtl?: number;
  /** Most sessions at once (default 10 000). */
  maxSessions?: number;
  /** Heartbeat comments on event streams, ms (default 15 000). */
  heartbeat?: number;
  /** Largest request body, bytes (default 4 MiB). */
  maxBodyBytes?: number;
}

/** A running MCP server. */
export interface McpServer {
  /** The bound port. */
  readonly port: number;
  /** The live sessions. */
  readonly sessions: SessionStore;
  /** The HTTP server underneath. */
  readonly http: Server;
  /** Ends every session, then shuts the HTTP server down. */
  close(): Promise<void>;
}

/** The name and version reported when none are given. */
export const DEFAULT_INFO: ServerInfo = { name: "lunet-mcp-sse", version: "0.1.0" };

/** Starts the MCP server and returns once it listens. */
export async function startMcpServer(opts: McpServerOptions): Promise<McpServer> {
  const info = opts.info ?? DEFAULT_INFO;
  const sessions = new SessionStore({ ttl: opts.sessionTtl, maxSessions: opts.maxSessions });
  const ctx: TransportContext = {
    mcp: new McpProtocol(opts.tools, info),
    sessions,
    heartbeat: opts.heartbeat ?? 15_000,
  };
  const router = new Router()
    .use(cors({ allowedOrigins: opts.allowedOrigins }))
    .get("/", () => ({
      ...info,
      transports: { sse: "/sse", streamableHttp: "/mcp" },
      tools: opts.tools.names,
      sessions: sessions.size,
    }));
  addSseTransport(router, ctx);
  addStreamableTransport(router, ctx);
  const http = await serve(router, {
    host: opts.host ?? "127.0.0.1",
    port: opts.port ?? 8080,
    maxBodyBytes: opts.maxBodyBytes ?? 4 * 1024 * 1024,
  });
  const sweeper = spawn(() => sessions.runSweeper(), { name: "mcp session sweeper" });
  let closing: Promise<void> | undefined;
  return {
    port: http.addr.port!,
    sessions,
    http,
    close() {
      return closing ??= (async () => {
        sweeper.cancel();
        sessions.close();
        await http.shutdown({ timeout: 5000 });
        await sweeper.then(undefined, () => {});
      })();
    },
  };
}

/**
 * The MCP methods this server answers — `initialize`,
 * `notifications/initialized`, `ping`, `tools/list`, `tools/call`,
 * `notifications/cancelled` — on top of the JSON-RPC framing. Independent
 * of the transport: the HTTP layer hands it a body and a session and sends
 * back what it returns.
 *
 * Each `tools/call` runs in its own task, registered in the session, so a
 * `notifications/cancelled` from the client (or the session closing)
 * cancels the tool's waits — an outbound HTTP request included.
 *
 * @example
 * ```ts ignore
 * import { McpProtocol } from "./protocol.ts";
 * import { ToolRegistry } from "./registry.ts";
 * import { Session } from "./sessions.ts";
 * const mcp = new McpProtocol(new ToolRegistry(), { name: "demo", version: "1.0.0" });
 * const reply = await mcp.handle({ jsonrpc: "2.0", id: 1, method: "ping" }, new Session("streamable"));
 * ```
 * @module
 */
import { spawn } from "../../mod.ts";
import {
  type Handled,
  handleMessages,
  INVALID_PARAMS,
  isObject,
  METHOD_NOT_FOUND,
  RpcError,
  type RpcRequest,
} from "./jsonrpc.ts";
import type { Session } from "./sessions.ts";
import type { ToolRegistry, ToolResult } from "./registry.ts";

/** Protocol versions this server speaks, newest first. */
export const PROTOCOL_VERSIONS: readonly string[] = [
  "2025-11-25",
  "2025-06-18",
  "2025-03-26",
  "2024-11-05",
];

/** The server's name and version, as `initialize` reports them. */
export interface ServerInfo {
  /** Server name. */
  name: string;
  /** Server version. */
  version: string;
}

/** The result of `initialize`. */
export interface InitializeResult {
  /** The agreed protocol version. */
  protocolVersion: string;
  /** What the server offers. */
  capabilities: { tools: { listChanged: boolean } };
  /** Who the server is. */
  serverInfo: ServerInfo;
  /** A hint for the model. */
  instructions?: string;
}

/** Answers MCP messages for any session. */
export class McpProtocol {
  readonly #tools: ToolRegistry;
  readonly #info: ServerInfo;
  readonly #instructions: string | undefined;

  /**
   * @param tools the tools offered
   * @param info server name and version
   * @param instructions optional hint returned by `initialize`
   */
  constructor(tools: ToolRegistry, info: ServerInfo, instructions?: string) {
    this.#tools = tools;
    this.#info = info;
    this.#instructions = instructions;
  }

  /** Handles one parsed body (a message or a batch) for `session`. */
  handle(body: unknown, session: Session): Promise<Handled> {
    return handleMessages(body, (request) => this.#dispatch(request, session));
  }

  /** True when `body` is a single `initialize` request (it opens a Streamable HTTP session). */
  static isInitialize(body: unknown): boolean {
    return isObject(body) && body.method === "initialize" && body.id !== undefined;
  }

  /** True when `body` holds a `tools/call` request (alone or in a batch). */
  static callsTool(body: unknown): boolean {
    const messages = Array.isArray(body) ? body : [body];
    return messages.some((m) => isObject(m) && m.method === "tools/call" && m.id !== undefined);
  }

  #dispatch(request: RpcRequest, session: Session): unknown {
    const params = request.params ?? {};
    if (!isObject(params)) throw new RpcError(INVALID_PARAMS, "params must be an object");
    switch (request.method) {
      case "initialize":
        return this.#initialize(params, session);
      case "notifications/initialized":
        session.initialized = true;
        return undefined;
      case "ping":
        return {};
      case "tools/list":
        return { tools: this.#tools.list() };
      case "tools/call":
        return this.#callTool(request, params, session);
      case "notifications/cancelled":
        session.inflight.get(params.requestId as string | number)?.cancel();
        return undefined;
      default:
        if (request.method.startsWith("notifications/")) return undefined;
        throw new RpcError(METHOD_NOT_FOUND, `Method not found: ${request.method}`);
    }
  }

  #initialize(params: Record<string, unknown>, session: Session): InitializeResult {
    const requested = params.protocolVersion;
    if (typeof requested !== "string") {
      throw new RpcError(INVALID_PARAMS, "protocolVersion: expected a string");
    }
    const info = params.clientInfo;
    if (isObject(info) && typeof info.name === "string") {
      session.client = { name: info.name, version: String(info.version ?? "") };
    }
    session.protocolVersion = PROTOCOL_VERSIONS.includes(requested)
      ? requested
      : PROTOCOL_VERSIONS[0];
    const result: InitializeResult = {
      protocolVersion: session.protocolVersion,
      capabilities: { tools: { listChanged: false } },
      serverInfo: this.#info,
    };
    if (this.#instructions) result.instructions = this.#instructions;
    return result;
  }

  async #callTool(
    request: RpcRequest,
    params: Record<string, unknown>,
    session: Session,
  ): Promise<ToolResult> {
    const task = spawn(() => this.#tools.call(params.name, params.arguments), {
      name: `tools/call ${String(params.name)}`,
    });
    const id = request.id;
    if (id !== undefined) session.inflight.set(id, task);
    try {
      return await task;
    } finally {
      if (id !== undefined && session.inflight.get(id) === task) session.inflight.delete(id);
    }
  }
}

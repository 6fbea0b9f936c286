/**
 * The MCP methods this server answers, on top of the JSON-RPC framing:
 * the lifecycle (`initialize`, `ping`), tools, resources (with
 * subscriptions), prompts, `logging/setLevel`, `completion/complete`,
 * cancellation, and the client's replies to the server's own requests.
 * Independent of the transport: the HTTP layer hands it a body, a session
 * and the stream the request's messages go on, and sends back what it
 * returns, in the revision the session negotiated.
 *
 * Each `tools/call` runs in its own task, registered in the session, so a
 * `notifications/cancelled` from the client (or the session closing)
 * cancels the tool's waits — an outbound HTTP request included — and the
 * request gets no reply, as MCP asks.
 *
 * @example
 * ```ts ignore
 * import { McpProtocol } from "./protocol.ts";
 * const mcp = new McpProtocol(catalog, { name: "demo", version: "1.0.0" });
 * const reply = await mcp.handle({ jsonrpc: "2.0", id: 1, method: "ping" }, session);
 * ```
 * @module
 */
import { Cancelled, LunetError, spawn } from "../../mod.ts";
import type { Icon } from "./content.ts";
import { CallContext, sessionPeer } from "./context.ts";
import {
  features,
  LATEST_VERSION,
  PROTOCOL_VERSIONS,
  shapeContent,
  shapeDescriptor,
} from "./eras.ts";
import {
  type Handled,
  handleMessages,
  INVALID_PARAMS,
  INVALID_REQUEST,
  isObject,
  METHOD_NOT_FOUND,
  NO_REPLY,
  RpcError,
  type RpcRequest,
} from "./jsonrpc.ts";
import { isLogLevel } from "./logging.ts";
import { PromptRegistry } from "./prompts.ts";
import { type Completer, RESOURCE_NOT_FOUND, ResourceRegistry } from "./resources.ts";
import type { ToolRegistry, ToolResult } from "./registry.ts";
import type { Session } from "./sessions.ts";

export { PROTOCOL_VERSIONS } from "./eras.ts";

/** The server's name and version, as `initialize` reports them. */
export interface ServerInfo {
  /** Server name. */
  name: string;
  /** Server version. */
  version: string;
  /** Display title (2025-06-18). */
  title?: string;
  /** Icons (2025-11-25). */
  icons?: Icon[];
  /** Home page (2025-11-25). */
  websiteUrl?: string;
}

/** What a server offers: tools, and optionally resources and prompts. */
export interface Catalog {
  /** The tools. */
  tools: ToolRegistry;
  /** The resources. */
  resources?: ResourceRegistry;
  /** The prompts. */
  prompts?: PromptRegistry;
}

/** The error message for an `initialize` on a session that has had one. */
export const ALREADY_INITIALIZED = "Invalid Request: the session is already initialized";

/** The result of `initialize`. */
export interface InitializeResult {
  /** The agreed protocol version. */
  protocolVersion: string;
  /** What the server offers. */
  capabilities: Record<string, Record<string, unknown>>;
  /** Who the server is. */
  serverInfo: ServerInfo;
  /** A hint for the model. */
  instructions?: string;
}

/** Most completion values returned at once (MCP's limit). */
const MAX_COMPLETIONS = 100;

/** Answers MCP messages for any session. */
export class McpProtocol {
  /** The tools. */
  readonly tools: ToolRegistry;
  /** The resources. */
  readonly resources: ResourceRegistry;
  /** The prompts. */
  readonly prompts: PromptRegistry;
  /** Who the server is. */
  readonly info: ServerInfo;
  /** The hint for the model, if any. */
  readonly instructions: string | undefined;

  /**
   * @param catalog the tools, resources and prompts offered (a tool registry alone will do)
   * @param info server name and version
   * @param instructions optional hint returned by `initialize`
   */
  constructor(catalog: Catalog | ToolRegistry, info: ServerInfo, instructions?: string) {
    const c: Catalog = "tools" in catalog ? catalog : { tools: catalog };
    this.tools = c.tools;
    this.resources = c.resources ?? new ResourceRegistry();
    this.prompts = c.prompts ?? new PromptRegistry();
    this.info = info;
    this.instructions = instructions;
  }

  /**
   * Handles one parsed body (a message or a batch) for `session`; messages
   * related to a request go on stream `streamId` (Streamable HTTP).
   */
  handle(body: unknown, session: Session, streamId?: string): Promise<Handled> {
    return handleMessages(
      body,
      (request) => this.#dispatch(request, session, streamId),
      (response) => session.requests.settle(response),
    );
  }

  /** True when `body` is a single `initialize` request (it opens a Streamable HTTP session). */
  static isInitialize(body: unknown): boolean {
    return isObject(body) && body.method === "initialize" && body.id !== undefined;
  }

  /** True when `body`, a message or a batch, holds an `initialize` request. */
  static initializes(body: unknown): boolean {
    return Array.isArray(body)
      ? body.some(McpProtocol.isInitialize)
      : McpProtocol.isInitialize(body);
  }

  /** True when `body` holds a `tools/call` request (alone or in a batch). */
  static callsTool(body: unknown): boolean {
    if (!Array.isArray(body)) {
      return isObject(body) && body.method === "tools/call" && body.id !== undefined;
    }
    return body.some((m) => isObject(m) && m.method === "tools/call" && m.id !== undefined);
  }

  #dispatch(request: RpcRequest, session: Session, streamId: string | undefined): unknown {
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
        return { tools: this.#listed(this.tools.list(), session) };
      case "tools/call":
        return this.#callTool(request, params, session, streamId);
      case "resources/list":
        return this.resources.list(params.cursor).then((page) => ({
          ...page,
          resources: this.#listed(page.resources, session),
        }));
      case "resources/templates/list":
        return { resourceTemplates: this.#listed(this.resources.templates(), session) };
      case "resources/read":
        return this.resources.read(needString(params, "uri")).then((contents) => ({ contents }));
      case "resources/subscribe":
        return this.#subscribe(params, session, true);
      case "resources/unsubscribe":
        return this.#subscribe(params, session, false);
      case "prompts/list":
        return { prompts: this.#listed(this.prompts.list(), session) };
      case "prompts/get":
        return this.prompts.get(
          params.name,
          params.arguments,
          new CallContext(sessionPeer(session, streamId), request.id, params._meta),
        ).then((result) => ({
          ...result,
          messages: result.messages.map((m) => ({
            ...m,
            content: shapeContent(
              m.content as unknown as Record<string, unknown>,
              session.features,
            ),
          })),
        }));
      case "logging/setLevel":
        if (!isLogLevel(params.level)) {
          throw new RpcError(INVALID_PARAMS, `level: expected a log level, got ${params.level}`);
        }
        session.logLevel = params.level;
        return {};
      case "completion/complete":
        return this.complete(params);
      case "notifications/cancelled":
        session.inflight.get(params.requestId as string | number)?.cancel(
          new Cancelled(`request ${params.requestId} cancelled by the client`),
        );
        return undefined;
      default:
        if (request.method.startsWith("notifications/")) return undefined;
        throw new RpcError(METHOD_NOT_FOUND, `Method not found: ${request.method}`);
    }
  }

  #initialize(params: Record<string, unknown>, session: Session): InitializeResult {
    if (session.protocolVersion !== undefined) {
      throw new RpcError(INVALID_REQUEST, ALREADY_INITIALIZED);
    }
    const requested = params.protocolVersion;
    if (typeof requested !== "string") {
      throw new RpcError(INVALID_PARAMS, "protocolVersion: expected a string");
    }
    const info = params.clientInfo;
    if (isObject(info) && typeof info.name === "string") {
      session.client = { name: info.name, version: String(info.version ?? "") };
    }
    if (isObject(params.capabilities)) session.clientCapabilities = params.capabilities;
    const version = PROTOCOL_VERSIONS.includes(requested) ? requested : LATEST_VERSION;
    session.protocolVersion = version;
    const f = features(version);
    const result: InitializeResult = {
      protocolVersion: version,
      capabilities: McpProtocol.capabilities(version),
      serverInfo: shapeDescriptor({ ...this.info }, f),
    };
    if (!f.icons) delete result.serverInfo.websiteUrl;
    if (this.instructions) result.instructions = this.instructions;
    return result;
  }

  /** What the server offers, as revision `version` declares it. */
  static capabilities(version: string): InitializeResult["capabilities"] {
    const capabilities: InitializeResult["capabilities"] = {
      tools: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      prompts: { listChanged: true },
      logging: {},
    };
    if (features(version).audio) capabilities.completions = {};
    return capabilities;
  }

  async #callTool(
    request: RpcRequest,
    params: Record<string, unknown>,
    session: Session,
    streamId: string | undefined,
  ): Promise<ToolResult | typeof NO_REPLY> {
    const ctx = new CallContext(sessionPeer(session, streamId), request.id, params._meta);
    const task = spawn(() => this.tools.call(params.name, params.arguments, ctx), {
      name: `tools/call ${String(params.name)}`,
    });
    const id = request.id;
    if (id !== undefined) session.inflight.set(id, task);
    try {
      return shapeResult(await task, session);
    } catch (err) {
      // Cancelled by the client, its session closing or the server stopping: no reply.
      if (err instanceof LunetError && err.code === "cancelled") return NO_REPLY;
      throw err;
    } finally {
      if (id !== undefined && session.inflight.get(id) === task) session.inflight.delete(id);
    }
  }

  #subscribe(params: Record<string, unknown>, session: Session, on: boolean): object {
    const uri = needString(params, "uri");
    if (on && !this.resources.knows(uri)) {
      throw new RpcError(RESOURCE_NOT_FOUND, `Resource not found: ${uri}`, { uri });
    }
    if (on) session.subscriptions.add(uri);
    else session.subscriptions.delete(uri);
    return {};
  }

  /** Answers `completion/complete`: values for a prompt's or a resource template's argument. */
  async complete(params: Record<string, unknown>): Promise<object> {
    const ref = params.ref, arg = params.argument;
    if (!isObject(ref) || !isObject(arg) || typeof arg.name !== "string") {
      throw new RpcError(INVALID_PARAMS, "ref and argument.name are required");
    }
    let completer: Completer | undefined;
    if (ref.type === "ref/prompt") completer = this.prompts.completer(String(ref.name), arg.name);
    else if (ref.type === "ref/resource") {
      completer = this.resources.completer(String(ref.uri), arg.name);
    } else throw new RpcError(INVALID_PARAMS, `ref.type: unknown ${ref.type}`);
    const context = isObject(params.context) && isObject(params.context.arguments)
      ? params.context.arguments as Record<string, string>
      : {};
    const values = completer ? await completer(String(arg.value ?? ""), context) : [];
    return {
      completion: {
        values: values.slice(0, MAX_COMPLETIONS),
        total: values.length,
        hasMore: values.length > MAX_COMPLETIONS,
      },
    };
  }

  #listed<T extends object>(items: T[], session: Session): T[] {
    const f = session.features;
    if (f.icons) return items;
    return items.map((item) => shapeDescriptor(item as Record<string, unknown>, f) as T);
  }
}

function needString(params: Record<string, unknown>, name: string): string {
  const value = params[name];
  if (typeof value !== "string") throw new RpcError(INVALID_PARAMS, `${name}: expected a string`);
  return value;
}

/** A tool result as the session's revision carries it. */
function shapeResult(result: ToolResult, session: Session): ToolResult {
  const f = session.features;
  if (f.icons) return result;
  const shaped: ToolResult = {
    ...result,
    content: result.content.map((c) =>
      shapeContent(
        c as unknown as Record<string, unknown>,
        f,
      ) as unknown as ToolResult["content"][0]
    ),
  };
  if (!f.structuredContent) delete shaped.structuredContent;
  return shaped;
}

/**
 * The MCP methods of the stateless revision (2026-07-28), on the same
 * registries as the handshake-based ones: `server/discover`, the lists,
 * `tools/call`, `resources/read`, `prompts/get`, `completion/complete` —
 * each request carrying its protocol version and the client's
 * capabilities in `_meta`, and nothing kept between requests. Every
 * result has `resultType` and the server's identity in `_meta`; list and
 * read results have caching hints (`ttlMs`, `cacheScope`). A tool or a
 * prompt that asks the client something gets an `input_required` result
 * instead of waiting ({@linkcode InputRound}, multi round-trip requests).
 * `subscriptions/listen` is served by the transport (`listen.ts`).
 *
 * @example
 * ```ts ignore
 * import { readMeta, StatelessProtocol } from "./stateless.ts";
 * const stateless = new StatelessProtocol(mcp);
 * const meta = readMeta(request.params);
 * const result = await stateless.handle(request, meta);
 * ```
 * @module
 */
import { Cancelled, LunetError, spawn, type Task } from "../../mod.ts";
import { CallContext, CapabilityError, type RequestPeer } from "./context.ts";
import { STATELESS_VERSIONS, SUPPORTED_VERSIONS } from "./eras.ts";
import {
  INVALID_PARAMS,
  isObject,
  NO_REPLY,
  RpcError,
  type RpcMessage,
  type RpcRequest,
} from "./jsonrpc.ts";
import { isLogLevel, type LogLevel } from "./logging.ts";
import { bindingOf, InputRequired, InputRound, readInputResponses, RequestStates } from "./mrtr.ts";
import { McpProtocol } from "./protocol.ts";
import { RESOURCE_NOT_FOUND } from "./resources.ts";

/** The headers and `_meta` do not agree, or a required header is missing. */
export const HEADER_MISMATCH = -32020;
/** The request needs a capability the client did not declare. */
export const MISSING_REQUIRED_CLIENT_CAPABILITY = -32021;
/** The request's protocol version is not one this server speaks statelessly. */
export const UNSUPPORTED_PROTOCOL_VERSION = -32022;

/** `_meta` keys of the stateless revision. */
export const META = {
  protocolVersion: "io.modelcontextprotocol/protocolVersion",
  clientCapabilities: "io.modelcontextprotocol/clientCapabilities",
  clientInfo: "io.modelcontextprotocol/clientInfo",
  logLevel: "io.modelcontextprotocol/logLevel",
  serverInfo: "io.modelcontextprotocol/serverInfo",
} as const;

/** The methods of the stateless revision (any other is "method not found", HTTP 404). */
export const STATELESS_METHODS: ReadonlySet<string> = new Set([
  "server/discover",
  "tools/list",
  "tools/call",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "prompts/list",
  "prompts/get",
  "completion/complete",
  "subscriptions/listen",
]);

/**
 * Caching hints of the cacheable results: definitions (tools, prompts,
 * templates, the server's description) are the same for every caller and
 * change rarely (a list change is announced too); resources are the notes,
 * which change with every write.
 */
const CACHE: Record<string, { ttlMs: number; cacheScope: "public" | "private" }> = {
  "server/discover": { ttlMs: 600_000, cacheScope: "public" },
  "tools/list": { ttlMs: 60_000, cacheScope: "public" },
  "prompts/list": { ttlMs: 60_000, cacheScope: "public" },
  "resources/templates/list": { ttlMs: 60_000, cacheScope: "public" },
  "resources/list": { ttlMs: 0, cacheScope: "private" },
  "resources/read": { ttlMs: 0, cacheScope: "private" },
};

/** What a stateless request says about itself in `_meta`. */
export interface RequestMeta {
  /** `io.modelcontextprotocol/protocolVersion`. */
  version: string;
  /** `io.modelcontextprotocol/clientCapabilities`. */
  capabilities: Record<string, unknown>;
  /** `io.modelcontextprotocol/logLevel`: log entries at this level or above; none when unset. */
  logLevel: LogLevel | undefined;
}

/** True when `body` looks like a stateless request: a request whose `_meta` names its version. */
export function carriesVersion(body: unknown): boolean {
  return isObject(body) && isObject(body.params) && isObject(body.params._meta) &&
    META.protocolVersion in body.params._meta;
}

/**
 * Reads the per-request fields of `_meta`. A missing or malformed
 * required field (version, capabilities) or an unknown log level throws
 * an invalid-params {@linkcode RpcError}: HTTP 400.
 */
export function readMeta(params: unknown): RequestMeta {
  const meta = isObject(params) ? params._meta : undefined;
  if (!isObject(meta)) throw new RpcError(INVALID_PARAMS, "params._meta is required");
  const version = meta[META.protocolVersion];
  if (typeof version !== "string") {
    throw new RpcError(INVALID_PARAMS, `_meta["${META.protocolVersion}"]: expected a string`);
  }
  const capabilities = meta[META.clientCapabilities];
  if (!isObject(capabilities)) {
    throw new RpcError(INVALID_PARAMS, `_meta["${META.clientCapabilities}"]: expected an object`);
  }
  const level = meta[META.logLevel];
  if (level !== undefined && !isLogLevel(level)) {
    throw new RpcError(INVALID_PARAMS, `_meta["${META.logLevel}"]: unknown log level ${level}`);
  }
  return { version, capabilities, logLevel: level };
}

/** The error for a version this server does not speak statelessly. */
export function unsupportedVersion(requested: string): RpcError {
  return new RpcError(UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version", {
    supported: SUPPORTED_VERSIONS,
    requested,
  });
}

/** Options of {@linkcode StatelessProtocol}. */
export interface StatelessOptions {
  /** Signs `requestState` (HMAC-SHA-256); give every instance behind a load balancer the same. */
  stateSecret?: string;
}

/** Answers the requests of the stateless revision. */
export class StatelessProtocol {
  /** The handshake-era protocol handler, whose registries and identity are shared. */
  readonly mcp: McpProtocol;
  readonly #states: RequestStates;
  readonly #inflight = new Set<Task<object>>();
  readonly #serverInfo: Record<string, unknown>;

  /**
   * @param mcp the registries and the server's identity
   * @param opts the `requestState` secret
   */
  constructor(mcp: McpProtocol, opts: StatelessOptions = {}) {
    this.mcp = mcp;
    this.#states = new RequestStates({ secret: opts.stateSecret });
    const { name, version, title } = mcp.info;
    this.#serverInfo = title === undefined ? { name, version } : { name, version, title };
  }

  /**
   * Answers one request whose `_meta` was read into `meta` (its version
   * supported). Messages related to it (progress, log entries) go through
   * `send`, when the reply is a stream. Returns the result, or
   * {@linkcode NO_REPLY} when the request was cancelled; throws an
   * {@linkcode RpcError} for an error reply.
   */
  async handle(
    request: RpcRequest,
    meta: RequestMeta,
    send?: (message: RpcMessage) => Promise<void>,
  ): Promise<Record<string, unknown> | typeof NO_REPLY> {
    const params = (request.params ?? {}) as Record<string, unknown>;
    const method = request.method;
    switch (method) {
      case "server/discover":
        return this.#complete(method, this.#discover());
      case "tools/list":
        return this.#complete(method, { tools: this.mcp.tools.list() });
      case "resources/list":
        return this.#complete(method, { ...await this.mcp.resources.list(params.cursor) });
      case "resources/templates/list":
        return this.#complete(method, { resourceTemplates: this.mcp.resources.templates() });
      case "resources/read":
        return this.#complete(method, { contents: await this.#read(params.uri) });
      case "prompts/list":
        return this.#complete(method, { prompts: this.mcp.prompts.list() });
      case "completion/complete":
        return this.#complete(method, { ...await this.mcp.complete(params) });
      case "tools/call":
      case "prompts/get":
        return await this.#run(request, params, meta, send);
      default:
        throw new RpcError(-32601, `Method not found: ${method}`);
    }
  }

  /** Cancels the calls running (shutdown): they get no reply. */
  close(): void {
    for (const task of this.#inflight) task.cancel(new Cancelled("the server is shutting down"));
  }

  #discover(): Record<string, unknown> {
    const result: Record<string, unknown> = {
      supportedVersions: SUPPORTED_VERSIONS,
      capabilities: McpProtocol.capabilities(STATELESS_VERSIONS[0]),
      _meta: { [META.serverInfo]: { ...this.mcp.info } },
    };
    if (this.mcp.instructions) result.instructions = this.mcp.instructions;
    return result;
  }

  async #read(uri: unknown) {
    if (typeof uri !== "string") throw new RpcError(INVALID_PARAMS, "uri: expected a string");
    try {
      return await this.mcp.resources.read(uri);
    } catch (err) {
      // Resource not found is invalid params from 2026-07-28 on (no longer -32002).
      if (err instanceof RpcError && err.code === RESOURCE_NOT_FOUND) {
        throw new RpcError(INVALID_PARAMS, err.message, err.data);
      }
      throw err;
    }
  }

  /**
   * Runs `tools/call` or `prompts/get` with the answers the request
   * carries; a question without an answer makes it `input_required`.
   */
  async #run(
    request: RpcRequest,
    params: Record<string, unknown>,
    meta: RequestMeta,
    send: ((message: RpcMessage) => Promise<void>) | undefined,
  ): Promise<Record<string, unknown> | typeof NO_REPLY> {
    const retry = params.requestState !== undefined;
    const binding = retry || params.inputResponses !== undefined
      ? await bindingOf(request.method, params)
      : undefined;
    const answers = {
      ...(retry ? await this.#states.open(params.requestState, binding!) : {}),
      ...readInputResponses(params.inputResponses),
    };
    const round = new InputRound(answers);
    const ctx = new CallContext(statelessPeer(meta, round, send), request.id, params._meta);
    const task: Task<object> = spawn(
      (): Promise<object> =>
        request.method === "tools/call"
          ? this.mcp.tools.call(params.name, params.arguments, ctx)
          : this.mcp.prompts.get(params.name, params.arguments, ctx),
      { name: `${request.method} ${String(params.name)}` },
    );
    this.#inflight.add(task);
    let result: Record<string, unknown> | undefined;
    try {
      result = await task as unknown as Record<string, unknown>;
    } catch (err) {
      if (err instanceof LunetError && err.code === "cancelled") return NO_REPLY;
      if (err instanceof CapabilityError) {
        throw new RpcError(
          MISSING_REQUIRED_CLIENT_CAPABILITY,
          `Missing required client capability: ${err.message}`,
          { requiredCapabilities: err.required },
        );
      }
      if (!(err instanceof InputRequired)) throw err;
    } finally {
      this.#inflight.delete(task);
    }
    if (round.open) {
      // Asked what the request had no answer for (even if the handler caught it): ask the client.
      return {
        resultType: "input_required",
        inputRequests: round.asked,
        requestState: await this.#states.seal(
          binding ?? await bindingOf(request.method, params),
          round.answers,
        ),
        _meta: { [META.serverInfo]: this.#serverInfo },
      };
    }
    return this.#complete(request.method, result!);
  }

  /** A final result: `resultType`, the server's identity, caching hints where they apply. */
  #complete(method: string, result: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = { resultType: "complete", ...result };
    out._meta = { [META.serverInfo]: this.#serverInfo, ...(result._meta as object | undefined) };
    const cache = CACHE[method];
    if (cache) Object.assign(out, cache);
    return out;
  }
}

/** The peer of one stateless request: no session; questions are answered from the request. */
function statelessPeer(
  meta: RequestMeta,
  round: InputRound,
  send: ((message: RpcMessage) => Promise<void>) | undefined,
): RequestPeer {
  return {
    version: meta.version,
    capabilities: meta.capabilities,
    logLevel: meta.logLevel ?? null,
    send: send ?? (() => Promise.resolve()),
    notify: () => Promise.resolve(), // no stream outlives a request
    ask: (method, params) => Promise.resolve().then(() => round.ask(method, params)),
    closeStream: () => false,
  };
}

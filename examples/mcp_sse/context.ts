/**
 * What a running request can do besides returning its result: report
 * progress (when the client sent a `progressToken`), log (as the client's
 * `logging/setLevel` allows or, on the stateless revision, the request's
 * `_meta` asks), and ask the client — for a completion from its model
 * (`sampling/createMessage`), for input from its user
 * (`elicitation/create`, form or URL mode) or for its roots
 * (`roots/list`) — each only when the client declared that capability.
 * Everything goes out on the stream of the request, so the client relates
 * it to the call. On a session the question goes to the client and the
 * request waits for the answer; on the stateless revision it goes back
 * in an `input_required` result and the request runs again with the
 * answer (`mrtr.ts`): the {@linkcode RequestPeer} decides.
 *
 * @example
 * ```ts ignore
 * async call(args, ctx) {
 *   await ctx.progress(0, 2, "starting");
 *   const answer = await ctx.elicit({ message: "Go on?", requestedSchema: confirmSchema });
 *   await ctx.log("info", { answer: answer.action });
 *   return textResult("done");
 * }
 * ```
 * @module
 */
import type { ClientRequestOptions } from "./client_requests.ts";
import { isStateless } from "./eras.ts";
import type { RequestId, RpcMessage } from "./jsonrpc.ts";
import { type LogLevel, logMessage, passes } from "./logging.ts";
import type { Session } from "./sessions.ts";

/** A form the user fills in (`elicitation/create`, form mode). */
export interface ElicitForm {
  /** What to ask. */
  message: string;
  /** A flat object schema of strings, numbers, booleans and enums. */
  requestedSchema: Record<string, unknown>;
}

/** A page the user visits (`elicitation/create`, URL mode, 2025-11-25). */
export interface ElicitUrl {
  /** Why. */
  message: string;
  /** The page. */
  url: string;
  /** Names this elicitation in `notifications/elicitation/complete`. */
  elicitationId: string;
}

/** The user's answer. */
export interface ElicitResult {
  /** What the user did. */
  action: "accept" | "decline" | "cancel";
  /** The form's values, on accept. */
  content?: Record<string, unknown>;
}

/** A client root. */
export interface Root {
  /** A `file://` URI. */
  uri: string;
  /** Display name. */
  name?: string;
}

/** The client does not offer what was asked of it. */
export class CapabilityError extends Error {
  /** The capabilities missing, as a client would declare them (`{ elicitation: {} }`). */
  readonly required: Record<string, unknown>;

  /**
   * @param what the capability missing, for the message
   * @param required the capabilities missing, as a client would declare them
   */
  constructor(what: string, required: Record<string, unknown> = {}) {
    super(`the client does not offer ${what}`);
    this.name = "CapabilityError";
    this.required = required;
  }
}

/**
 * Who a request came from and where its messages go: a session of the
 * handshake-based revisions (its streams, its log level, the requests the
 * server sends it) or, on the stateless revision, the request alone.
 */
export interface RequestPeer {
  /** The protocol version the request speaks. */
  readonly version: string | undefined;
  /** What the client declared it offers (`sampling`, `elicitation`, `roots`, …). */
  readonly capabilities: Record<string, unknown>;
  /** The least severe log level sent: `undefined` sends every entry, `null` none. */
  readonly logLevel: LogLevel | undefined | null;
  /** Sends a message related to the request (on its stream). */
  send(message: RpcMessage): Promise<void>;
  /** Sends a message not tied to the request (the standalone stream). */
  notify(message: RpcMessage): Promise<void>;
  /** Asks the client (`sampling/createMessage`, `elicitation/create`, `roots/list`). */
  ask(
    method: string,
    params: Record<string, unknown>,
    opts?: ClientRequestOptions,
  ): Promise<unknown>;
  /** Closes the connection carrying the request's stream, the request going on (SEP-1699). */
  closeStream(): boolean;
}

/** The peer of a request on `session`, whose messages go on stream `streamId`. */
export function sessionPeer(session: Session, streamId: string | undefined): RequestPeer {
  return {
    get version() {
      return session.protocolVersion;
    },
    get capabilities() {
      return session.clientCapabilities;
    },
    get logLevel() {
      return session.logLevel;
    },
    send: (message) => session.send(message, streamId),
    notify: (message) => session.send(message),
    ask: (method, params, opts) =>
      session.requests.send((m) => session.send(m, streamId), method, params, opts),
    closeStream: () =>
      session.hub !== undefined && streamId !== undefined && session.hub.disconnect(streamId),
  };
}

/** The context of one request. */
export class CallContext {
  /** The request's id. */
  readonly requestId: RequestId | undefined;
  readonly #peer: RequestPeer;
  readonly #progressToken: string | number | undefined;

  /**
   * @param peer who sent the request, where its messages go
   * @param requestId the request's id
   * @param meta the request's `_meta`
   */
  constructor(peer: RequestPeer, requestId: RequestId | undefined, meta: unknown) {
    this.#peer = peer;
    this.requestId = requestId;
    const token = (meta as { progressToken?: unknown } | undefined)?.progressToken;
    if (typeof token === "string" || typeof token === "number") this.#progressToken = token;
  }

  /** True on the stateless revision (2026-07-28): no session, questions in input-required results. */
  get stateless(): boolean {
    return isStateless(this.#peer.version);
  }

  /** True when the client asked for progress. */
  get wantsProgress(): boolean {
    return this.#progressToken !== undefined;
  }

  /** Sends `notifications/progress`, when the client asked for it. */
  async progress(progress: number, total?: number, message?: string): Promise<void> {
    if (this.#progressToken === undefined) return;
    const params: Record<string, unknown> = { progressToken: this.#progressToken, progress };
    if (total !== undefined) params.total = total;
    if (message !== undefined) params.message = message;
    await this.#peer.send({ jsonrpc: "2.0", method: "notifications/progress", params });
  }

  /** Sends a log entry (`notifications/message`) if the client's level lets it through. */
  async log(level: LogLevel, data: unknown, logger?: string): Promise<void> {
    const min = this.#peer.logLevel;
    if (min === null || !passes(level, min)) return;
    await this.#peer.send(logMessage(level, data, logger));
  }

  /** Asks the client's model for a completion (`sampling/createMessage`). */
  sample(params: Record<string, unknown>, opts?: ClientRequestOptions): Promise<unknown> {
    this.#need("sampling", "sampling");
    return this.#peer.ask("sampling/createMessage", params, opts);
  }

  /** Asks the user to fill in a form (`elicitation/create`, form mode). */
  async elicit(form: ElicitForm, opts?: ClientRequestOptions): Promise<ElicitResult> {
    this.#need("elicitation", "elicitation");
    const params: Record<string, unknown> = { ...form };
    if ((this.#peer.version ?? "") >= "2025-11-25") params.mode = "form";
    return await this.#peer.ask("elicitation/create", params, opts) as ElicitResult;
  }

  /**
   * Sends the user to a page (`elicitation/create`, URL mode). On the
   * stateless revision the `elicitationId` is not sent: the client tells
   * the outcome by retrying the request.
   */
  async elicitUrl(page: ElicitUrl, opts?: ClientRequestOptions): Promise<ElicitResult> {
    const caps = this.#need("elicitation", "elicitation") as Record<string, unknown>;
    if (!("url" in caps)) {
      throw new CapabilityError("URL elicitation", { elicitation: { url: {} } });
    }
    const params: Record<string, unknown> = { mode: "url", ...page };
    if (isStateless(this.#peer.version)) delete params.elicitationId;
    return await this.#peer.ask("elicitation/create", params, opts) as ElicitResult;
  }

  /**
   * Tells the client a URL elicitation finished
   * (`notifications/elicitation/complete`); nothing on the stateless
   * revision, which has no such notification.
   */
  async elicitationComplete(elicitationId: string): Promise<void> {
    if (isStateless(this.#peer.version)) return;
    await this.#peer.notify({
      jsonrpc: "2.0",
      method: "notifications/elicitation/complete",
      params: { elicitationId },
    });
  }

  /** The client's roots (`roots/list`). */
  async listRoots(opts?: ClientRequestOptions): Promise<Root[]> {
    this.#need("roots", "roots");
    const result = await this.#peer.ask("roots/list", {}, opts) as { roots?: Root[] };
    return result.roots ?? [];
  }

  /**
   * Closes the connection carrying this request's stream, the call going
   * on (SEP-1699): the client reconnects with `Last-Event-ID` after the
   * `retry:` delay and gets what it missed. False when the request has no
   * stream to close (always on the stateless revision, whose streams are
   * not resumable).
   */
  closeStream(): boolean {
    return this.#peer.closeStream();
  }

  #need(capability: string, what: string): unknown {
    const caps = this.#peer.capabilities[capability];
    if (caps === undefined || caps === null) {
      throw new CapabilityError(what, { [capability]: {} });
    }
    return caps;
  }
}

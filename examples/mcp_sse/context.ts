/**
 * What a running request can do besides returning its result: report
 * progress (when the client sent a `progressToken`), log (as the client's
 * `logging/setLevel` allows), and ask the client — for a completion from
 * its model (`sampling/createMessage`), for input from its user
 * (`elicitation/create`, form or URL mode) or for its roots
 * (`roots/list`) — each only when the client declared that capability.
 * Everything goes out on the stream of the request, so the client relates
 * it to the call.
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
import type { RequestId } from "./jsonrpc.ts";
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
  /** @param what the capability missing */
  constructor(what: string) {
    super(`the client does not offer ${what}`);
    this.name = "CapabilityError";
  }
}

/** The context of one request. */
export class CallContext {
  /** The session the request came on. */
  readonly session: Session;
  /** The request's id. */
  readonly requestId: RequestId | undefined;
  /** The stream replies and related messages go on (Streamable HTTP). */
  readonly streamId: string | undefined;
  readonly #progressToken: string | number | undefined;

  /**
   * @param session the session
   * @param requestId the request's id
   * @param streamId its stream, if it has one
   * @param meta the request's `_meta`
   */
  constructor(
    session: Session,
    requestId: RequestId | undefined,
    streamId: string | undefined,
    meta: unknown,
  ) {
    this.session = session;
    this.requestId = requestId;
    this.streamId = streamId;
    const token = (meta as { progressToken?: unknown } | undefined)?.progressToken;
    if (typeof token === "string" || typeof token === "number") this.#progressToken = token;
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
    await this.session.send(
      { jsonrpc: "2.0", method: "notifications/progress", params },
      this.streamId,
    );
  }

  /** Sends a log entry (`notifications/message`) if the client's level lets it through. */
  async log(level: LogLevel, data: unknown, logger?: string): Promise<void> {
    if (!passes(level, this.session.logLevel)) return;
    await this.session.send(logMessage(level, data, logger), this.streamId);
  }

  /** Asks the client's model for a completion (`sampling/createMessage`). */
  sample(params: Record<string, unknown>, opts?: ClientRequestOptions): Promise<unknown> {
    this.#need("sampling", "sampling");
    return this.#ask("sampling/createMessage", params, opts);
  }

  /** Asks the user to fill in a form (`elicitation/create`, form mode). */
  async elicit(form: ElicitForm, opts?: ClientRequestOptions): Promise<ElicitResult> {
    this.#need("elicitation", "elicitation");
    const params: Record<string, unknown> = { ...form };
    if (this.session.speaks("2025-11-25")) params.mode = "form";
    return await this.#ask("elicitation/create", params, opts) as ElicitResult;
  }

  /** Sends the user to a page (`elicitation/create`, URL mode). */
  async elicitUrl(page: ElicitUrl, opts?: ClientRequestOptions): Promise<ElicitResult> {
    const caps = this.#need("elicitation", "elicitation") as Record<string, unknown>;
    if (!("url" in caps)) throw new CapabilityError("URL elicitation");
    return await this.#ask("elicitation/create", { mode: "url", ...page }, opts) as ElicitResult;
  }

  /** Tells the client a URL elicitation finished (`notifications/elicitation/complete`). */
  async elicitationComplete(elicitationId: string): Promise<void> {
    await this.session.send({
      jsonrpc: "2.0",
      method: "notifications/elicitation/complete",
      params: { elicitationId },
    });
  }

  /** The client's roots (`roots/list`). */
  async listRoots(opts?: ClientRequestOptions): Promise<Root[]> {
    this.#need("roots", "roots");
    const result = await this.#ask("roots/list", {}, opts) as { roots?: Root[] };
    return result.roots ?? [];
  }

  /**
   * Closes the connection carrying this request's stream, the call going
   * on (SEP-1699): the client reconnects with `Last-Event-ID` after the
   * `retry:` delay and gets what it missed. False when the request has no
   * stream to close.
   */
  closeStream(): boolean {
    const hub = this.session.hub;
    return hub !== undefined && this.streamId !== undefined && hub.disconnect(this.streamId);
  }

  #need(capability: string, what: string): unknown {
    const caps = this.session.clientCapabilities[capability];
    if (caps === undefined || caps === null) throw new CapabilityError(what);
    return caps;
  }

  #ask(method: string, params: Record<string, unknown>, opts?: ClientRequestOptions) {
    return this.session.requests.send(
      (m) => this.session.send(m, this.streamId),
      method,
      params,
      opts,
    );
  }
}

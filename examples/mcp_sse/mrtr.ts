/**
 * Multi round-trip requests (MRTR, the stateless revision 2026-07-28): a
 * request that needs the client — its user (`elicitation/create`), its
 * model (`sampling/createMessage`) or its roots (`roots/list`) — is not
 * kept waiting on the server. The handler runs until it asks something
 * the request carries no answer for; the reply is then an
 * `input_required` result listing the questions, and the client sends the
 * request again with the answers (`inputResponses`) and the opaque
 * `requestState` it got. The handler runs again from the start, and each
 * question it asks is answered from the request, so any instance behind a
 * load balancer can serve any round.
 *
 * Questions are named by kind and order (`elicitation-1`, `sampling-2`),
 * the same on every round as long as the handler asks the same things in
 * the same order. `requestState` carries the answers of earlier rounds
 * (the client sends back only the latest), bound to the request (method,
 * name or URI, and a digest of the arguments) with an expiry; with a
 * secret (`MCP_STATE_SECRET`) it is also signed (HMAC-SHA-256), and a
 * state that fails the check is refused.
 *
 * @example
 * ```ts
 * import { InputRequired, InputRound, RequestStates } from "./mrtr.ts";
 * const round = new InputRound({});
 * try {
 *   round.ask("elicitation/create", { message: "Go on?", requestedSchema: {} });
 * } catch (err) {
 *   if (!(err instanceof InputRequired)) throw err;
 * }
 * if (!("elicitation-1" in round.asked)) throw new Error("not asked");
 * const states = new RequestStates({ secret: "s3cret" });
 * const state = await states.seal("binding", { "elicitation-1": { action: "accept" } });
 * const answers = await states.open(state, "binding");
 * const next = new InputRound(answers);
 * const answer = next.ask("elicitation/create", { message: "Go on?", requestedSchema: {} });
 * if ((answer as { action: string }).action !== "accept") throw new Error("not answered");
 * ```
 * @module
 */
import { INVALID_PARAMS, isObject, RpcError } from "./jsonrpc.ts";

/** Thrown where a handler asks what the request carries no answer for. */
export class InputRequired extends Error {
  /** @param key the question's name in `inputRequests` */
  constructor(key: string) {
    super(`input required: ${key}`);
    this.name = "InputRequired";
  }
}

/** A question to the client, as `inputRequests` carries it. */
export interface InputRequest {
  /** `elicitation/create`, `sampling/createMessage` or `roots/list`. */
  method: string;
  /** Its parameters. */
  params: Record<string, unknown>;
}

const KINDS: Record<string, string> = {
  "elicitation/create": "elicitation",
  "sampling/createMessage": "sampling",
  "roots/list": "roots",
};

/** One round of a request: the answers it carries and the questions left open. */
export class InputRound {
  /** Questions asked this round that had no answer. */
  readonly asked: Record<string, InputRequest> = {};
  readonly #answers: Record<string, unknown>;
  #next = 1;

  /** @param answers the answers known so far (from `requestState` and `inputResponses`) */
  constructor(answers: Record<string, unknown>) {
    this.#answers = answers;
  }

  /** The answers known so far, to carry into the next round's `requestState`. */
  get answers(): Record<string, unknown> {
    return this.#answers;
  }

  /** True when a question went unanswered: the reply is an `input_required` result. */
  get open(): boolean {
    for (const _ in this.asked) return true;
    return false;
  }

  /**
   * Asks `method`: returns the client's answer when the request carries
   * it, or records the question and throws {@linkcode InputRequired}.
   */
  ask(method: string, params: Record<string, unknown>): unknown {
    const key = `${KINDS[method] ?? "input"}-${this.#next++}`;
    if (key in this.#answers) return this.#answers[key];
    this.asked[key] = { method, params };
    throw new InputRequired(key);
  }
}

/** Checks a request's `inputResponses`: a map of objects (any other value is refused). */
export function readInputResponses(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isObject(value)) throw new RpcError(INVALID_PARAMS, "inputResponses: expected an object");
  for (const [key, answer] of Object.entries(value)) {
    if (!isObject(answer)) {
      throw new RpcError(INVALID_PARAMS, `inputResponses.${key}: expected an object`);
    }
    if (
      key.startsWith("elicitation-") &&
      !["accept", "decline", "cancel"].includes(answer.action as string)
    ) {
      throw new RpcError(
        INVALID_PARAMS,
        `inputResponses.${key}.action: expected accept, decline or cancel`,
      );
    }
  }
  return value;
}

/** Options of {@linkcode RequestStates}. */
export interface RequestStatesOptions {
  /** Signs states (HMAC-SHA-256); every instance behind a load balancer needs the same one. */
  secret?: string;
  /** How long a state is accepted, ms (default 10 minutes). */
  ttl?: number;
}

interface StatePayload {
  v: 1;
  b: string;
  e: number;
  a: Record<string, unknown>;
}

const encoder = new TextEncoder();

/** Seals and opens `requestState` values. */
export class RequestStates {
  readonly #ttl: number;
  readonly #key: Promise<CryptoKey> | undefined;

  /** @param opts secret and lifetime */
  constructor(opts: RequestStatesOptions = {}) {
    this.#ttl = opts.ttl ?? 10 * 60_000;
    if (opts.secret) {
      this.#key = crypto.subtle.importKey(
        "raw",
        encoder.encode(opts.secret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign", "verify"],
      );
    }
  }

  /** The state carrying `answers` for the request `binding` names. */
  async seal(binding: string, answers: Record<string, unknown>): Promise<string> {
    const payload: StatePayload = { v: 1, b: binding, e: Date.now() + this.#ttl, a: answers };
    const body = base64url(encoder.encode(JSON.stringify(payload)));
    if (!this.#key) return body;
    const mac = await crypto.subtle.sign("HMAC", await this.#key, encoder.encode(body));
    return `${body}.${base64url(new Uint8Array(mac))}`;
  }

  /**
   * The answers a state carries. Throws an invalid-params {@linkcode RpcError}
   * for a state that is malformed, fails the signature check, has expired
   * or was issued for another request.
   */
  async open(state: unknown, binding: string): Promise<Record<string, unknown>> {
    if (typeof state !== "string") throw bad("expected a string");
    const dot = state.indexOf(".");
    const body = dot < 0 ? state : state.slice(0, dot);
    if (this.#key) {
      if (dot < 0) throw bad("not signed");
      let mac: Uint8Array;
      try {
        mac = unbase64url(state.slice(dot + 1));
      } catch {
        throw bad("bad signature");
      }
      const ok = await crypto.subtle.verify(
        "HMAC",
        await this.#key,
        mac as Uint8Array<ArrayBuffer>,
        encoder.encode(body),
      );
      if (!ok) throw bad("bad signature");
    }
    let payload: StatePayload;
    try {
      payload = JSON.parse(new TextDecoder().decode(unbase64url(body)));
    } catch {
      throw bad("malformed");
    }
    if (!isObject(payload) || payload.v !== 1 || !isObject(payload.a)) throw bad("malformed");
    if (typeof payload.e !== "number" || payload.e < Date.now()) throw bad("expired");
    if (payload.b !== binding) throw bad("issued for another request");
    return payload.a;
  }
}

/**
 * What a state is bound to: the method, the name or URI, and a digest of
 * the arguments (keys sorted, so the client may serialize them in any order).
 */
export async function bindingOf(method: string, params: Record<string, unknown>): Promise<string> {
  const target = params.name ?? params.uri ?? "";
  const text = JSON.stringify([method, target, canonical(params.arguments ?? {})]);
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(text));
  return base64url(new Uint8Array(digest).subarray(0, 18));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = canonical(value[key]);
  return out;
}

function bad(why: string): RpcError {
  return new RpcError(INVALID_PARAMS, `requestState: ${why}`);
}

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function unbase64url(text: string): Uint8Array {
  const s = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

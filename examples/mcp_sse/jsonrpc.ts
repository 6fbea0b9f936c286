/**
 * JSON-RPC 2.0 framing for the MCP server: parsing one message or a batch,
 * validating requests, and building replies and errors with the standard
 * codes. Transport-free: it maps messages to replies through a dispatch
 * function.
 *
 * @example
 * ```ts ignore
 * import { handleMessages } from "./jsonrpc.ts";
 * const reply = await handleMessages({ jsonrpc: "2.0", id: 1, method: "ping" }, () => ({}));
 * console.log(reply.body); // { jsonrpc: "2.0", id: 1, result: {} }
 * ```
 * @module
 */

/** Invalid JSON was received. */
export const PARSE_ERROR = -32700;
/** The JSON sent is not a valid request object. */
export const INVALID_REQUEST = -32600;
/** The method does not exist. */
export const METHOD_NOT_FOUND = -32601;
/** Invalid method parameters. */
export const INVALID_PARAMS = -32602;
/** Internal JSON-RPC error. */
export const INTERNAL_ERROR = -32603;

/** A request id; `null` only in replies to messages whose id was unreadable. */
export type RequestId = string | number;

/** A request (with `id`) or a notification (without). */
export interface RpcRequest {
  /** Always `"2.0"`. */
  jsonrpc: "2.0";
  /** Absent for notifications. */
  id?: RequestId;
  /** Method name. */
  method: string;
  /** Parameters, when given: an object or an array. */
  params?: Record<string, unknown> | unknown[];
}

/** The error member of a failed reply. */
export interface RpcErrorObject {
  /** One of the standard codes or an application code. */
  code: number;
  /** Short description. */
  message: string;
  /** Extra detail. */
  data?: unknown;
}

/** A reply to one request. */
export type RpcResponse =
  | { jsonrpc: "2.0"; id: RequestId; result: unknown }
  | { jsonrpc: "2.0"; id: RequestId | null; error: RpcErrorObject };

/** A notification the server sends. */
export interface RpcNotification {
  /** Always `"2.0"`. */
  jsonrpc: "2.0";
  /** Method name. */
  method: string;
  /** Parameters. */
  params?: Record<string, unknown>;
}

/** Any message on the wire, one or a batch. */
export type RpcMessage = RpcRequest | RpcResponse | RpcNotification | RpcResponse[];

/**
 * What a method returns to send no reply at all: the request was
 * cancelled (by the client, by closing its session, or by shutdown).
 */
export const NO_REPLY: unique symbol = Symbol("no reply");

/**
 * An error a method throws to answer with a JSON-RPC error object.
 *
 * @example
 * ```ts ignore
 * throw new RpcError(INVALID_PARAMS, "name: expected a string");
 * ```
 */
export class RpcError extends Error {
  /** JSON-RPC error code. */
  readonly code: number;
  /** Extra detail for the `data` member. */
  readonly data?: unknown;

  /**
   * @param code JSON-RPC error code
   * @param message short description
   * @param data extra detail
   */
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = "RpcError";
    this.code = code;
    if (data !== undefined) this.data = data;
  }
}

/** Handles one valid request or notification; returns the result (or {@linkcode NO_REPLY}). */
export type Dispatch = (request: RpcRequest) => unknown | Promise<unknown>;

/** Takes a reply the client sent to a request of the server. */
export type OnResponse = (response: RpcResponse) => void;

/** What a received body amounts to. */
export interface Handled {
  /** The reply to send (an array for a batch), or `undefined` when nothing is owed. */
  body: RpcResponse | RpcResponse[] | undefined;
  /** True when the body held at least one request (as opposed to only notifications or replies). */
  hadRequests: boolean;
}

/**
 * Parses a received body. Malformed JSON yields the parse-error reply to
 * send back instead.
 */
export function parseBody(text: string): { value: unknown } | { error: RpcResponse } {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { error: failure(null, PARSE_ERROR, "Parse error: body is not valid JSON") };
  }
}

/**
 * Handles a parsed body — one JSON-RPC message or a batch: dispatches
 * every valid request and notification in order and collects the replies.
 * Notifications and client replies get no reply; an invalid message gets
 * an invalid-request error.
 */
export async function handleMessages(
  body: unknown,
  dispatch: Dispatch,
  onResponse?: OnResponse,
): Promise<Handled> {
  if (!Array.isArray(body)) {
    const reply = await handleOne(body, dispatch, onResponse);
    return { body: reply, hadRequests: reply !== undefined };
  }
  if (body.length === 0) {
    return {
      body: failure(null, INVALID_REQUEST, "Invalid Request: empty batch"),
      hadRequests: true,
    };
  }
  // The requests of a batch run concurrently; replies keep their order.
  const replies = (await Promise.all(body.map((m) => handleOne(m, dispatch, onResponse))))
    .filter((r): r is RpcResponse => r !== undefined);
  return { body: replies.length ? replies : undefined, hadRequests: replies.length > 0 };
}

/** Serializes a message for the wire. */
export function encode(message: RpcMessage): string {
  return JSON.stringify(message);
}

/** A JSON-RPC error reply. */
export function failure(
  id: RequestId | null,
  code: number,
  message: string,
  data?: unknown,
): RpcResponse {
  const error: RpcErrorObject = { code, message };
  if (data !== undefined) error.data = data;
  return { jsonrpc: "2.0", id, error };
}

async function handleOne(
  message: unknown,
  dispatch: Dispatch,
  onResponse: OnResponse | undefined,
): Promise<RpcResponse | undefined> {
  if (!isObject(message)) return failure(null, INVALID_REQUEST, "Invalid Request: not an object");
  const id = readId(message);
  if (message.jsonrpc !== "2.0") {
    return failure(id, INVALID_REQUEST, 'Invalid Request: jsonrpc must be "2.0"');
  }
  if (message.method === undefined && ("result" in message || "error" in message)) {
    onResponse?.(message as unknown as RpcResponse); // a reply to a request of the server
    return undefined;
  }
  if (typeof message.method !== "string") {
    return failure(id, INVALID_REQUEST, "Invalid Request: method must be a string");
  }
  if ("id" in message && id === null) {
    return failure(null, INVALID_REQUEST, "Invalid Request: id must be a string or a number");
  }
  const params = message.params;
  if (params !== undefined && !isObject(params) && !Array.isArray(params)) {
    return failure(id, INVALID_REQUEST, "Invalid Request: params must be an object or an array");
  }
  const request = message as unknown as RpcRequest;
  try {
    const result = await dispatch(request);
    if (result === NO_REPLY) return undefined;
    return id === null ? undefined : { jsonrpc: "2.0", id, result: result ?? {} };
  } catch (err) {
    if (id === null) return undefined;
    if (err instanceof RpcError) return failure(id, err.code, err.message, err.data);
    return failure(id, INTERNAL_ERROR, `Internal error: ${(err as Error)?.message ?? err}`);
  }
}

function readId(message: Record<string, unknown>): RequestId | null {
  const id = message.id;
  return typeof id === "string" || (typeof id === "number" && Number.isFinite(id)) ? id : null;
}

/** True for a plain JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

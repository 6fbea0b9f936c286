/**
 * Requests the server sends to a client — `sampling/createMessage`,
 * `elicitation/create`, `roots/list`, `ping` — and the wait for each reply.
 * A reply the client sends (a POST on Streamable HTTP, a message on the
 * SSE transport) settles its request. A request that times out, or whose
 * caller is cancelled, is withdrawn with `notifications/cancelled`, so the
 * client stops asking its user or its model.
 *
 * @example
 * ```ts ignore
 * import { ClientRequests } from "./client_requests.ts";
 * const requests = new ClientRequests();
 * const roots = await requests.send((m) => session.send(m), "roots/list", {}, { timeout: 5000 });
 * ```
 * @module
 */
import { Cancelled, Channel, TimeoutError } from "../../mod.ts";
import type { RpcErrorObject, RpcMessage, RpcResponse } from "./jsonrpc.ts";

/** Options of one request to the client. */
export interface ClientRequestOptions {
  /** Most time to wait for the reply, ms (default 60 000). */
  timeout?: number;
  /** Withdraws the request when it aborts. */
  signal?: AbortSignal;
}

/** The client answered a request of the server with a JSON-RPC error. */
export class ClientError extends Error {
  /** The client's error code. */
  readonly code: number;
  /** Extra detail. */
  readonly data?: unknown;

  /** @param error the client's error object */
  constructor(error: RpcErrorObject) {
    super(error.message);
    this.name = "ClientError";
    this.code = error.code;
    this.data = error.data;
  }
}

/** The requests one session has sent its client and not yet seen answered. */
export class ClientRequests {
  readonly #pending = new Map<string, Channel<RpcResponse>>();
  #next = 1;

  /** Requests waiting for their reply. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Sends request `method` through `send` and waits for the reply's
   * result. Throws {@linkcode ClientError} for an error reply,
   * `TimeoutError` or `Cancelled` when the request was withdrawn.
   */
  async send(
    send: (message: RpcMessage) => Promise<void> | void,
    method: string,
    params: Record<string, unknown>,
    opts: ClientRequestOptions = {},
  ): Promise<unknown> {
    const id = `srv-${this.#next++}`;
    const reply = new Channel<RpcResponse>(1);
    this.#pending.set(id, reply);
    try {
      await send({ jsonrpc: "2.0", id, method, params });
      const response = await reply.recv({ timeout: opts.timeout ?? 60_000, signal: opts.signal });
      if ("error" in response) throw new ClientError(response.error);
      return response.result;
    } catch (err) {
      if ((err instanceof TimeoutError || err instanceof Cancelled) && this.#pending.has(id)) {
        const reason = err instanceof TimeoutError ? "timed out" : "cancelled";
        try {
          await send({
            jsonrpc: "2.0",
            method: "notifications/cancelled",
            params: { requestId: id, reason: `${method} ${reason}` },
          });
        } catch { /* the session is gone: nothing to withdraw */ }
      }
      throw err;
    } finally {
      this.#pending.delete(id);
    }
  }

  /** Settles the request a client reply answers; false when none waits for it. */
  settle(response: RpcResponse): boolean {
    const reply = response.id === null ? undefined : this.#pending.get(String(response.id));
    if (!reply) return false;
    this.#pending.delete(String(response.id));
    reply.send(response);
    return true;
  }

  /** Fails every waiting request (the session closed). */
  close(): void {
    for (const reply of this.#pending.values()) reply.close();
    this.#pending.clear();
  }
}

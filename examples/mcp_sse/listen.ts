/**
 * `subscriptions/listen` (the stateless revision 2026-07-28): a request
 * whose response is a long-lived event stream of the change notifications
 * the client opted in to — list changes of tools, prompts and resources,
 * and updates of the resources it names. The first message is
 * `notifications/subscriptions/acknowledged` with the part of the filter
 * the server honours (resource URIs it does not know are left out); every
 * message carries the listen request's id as
 * `io.modelcontextprotocol/subscriptionId` in `_meta`. The client ends a
 * subscription by closing the stream; the server ends it on shutdown with
 * a result for the listen request, then closes the stream.
 *
 * The subscription lives only as long as its stream: nothing is kept
 * between requests, so any instance can serve it (each instance tells its
 * listeners of the changes it sees).
 *
 * @example
 * ```ts ignore
 * import { Listeners } from "./listen.ts";
 * const listeners = new Listeners();
 * // in an sse() producer, for a subscriptions/listen request with id 7:
 * await listeners.serve(stream, 7, { toolsListChanged: true }, closing);
 * // elsewhere, when the tools change:
 * listeners.deliver("notifications/tools/list_changed");
 * ```
 * @module
 */
import { Flag } from "../../mod.ts";
import type { SseStream } from "../../src/http/mod.ts";
import { encode, isObject, type RequestId, type RpcMessage } from "./jsonrpc.ts";

/** The notifications a client opts in to. */
export interface SubscriptionFilter {
  /** `notifications/tools/list_changed`. */
  toolsListChanged?: boolean;
  /** `notifications/prompts/list_changed`. */
  promptsListChanged?: boolean;
  /** `notifications/resources/list_changed`. */
  resourcesListChanged?: boolean;
  /** `notifications/resources/updated` for these URIs. */
  resourceSubscriptions?: string[];
}

/** The subscription-id key of `_meta`. */
export const SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId";

const LIST_FLAGS: Record<string, keyof SubscriptionFilter> = {
  "notifications/tools/list_changed": "toolsListChanged",
  "notifications/prompts/list_changed": "promptsListChanged",
  "notifications/resources/list_changed": "resourcesListChanged",
};

/**
 * The filter the server honours from what a client asked (`notifications`
 * of the request): the list flags set to `true`, and the resource URIs
 * `knows` accepts.
 */
export function honoured(asked: unknown, knows: (uri: string) => boolean): SubscriptionFilter {
  const filter: SubscriptionFilter = {};
  if (!isObject(asked)) return filter;
  for (const flag of Object.values(LIST_FLAGS)) {
    if (asked[flag] === true) (filter as Record<string, unknown>)[flag] = true;
  }
  if (Array.isArray(asked.resourceSubscriptions)) {
    const uris = asked.resourceSubscriptions.filter((u): u is string =>
      typeof u === "string" && knows(u)
    );
    if (uris.length) filter.resourceSubscriptions = [...new Set(uris)];
  }
  return filter;
}

class Listener {
  readonly id: RequestId;
  readonly filter: SubscriptionFilter;
  readonly #uris: Set<string>;
  readonly #queue: string[] = [];
  readonly #wake = new Flag();
  #ended = false;

  constructor(id: RequestId, filter: SubscriptionFilter) {
    this.id = id;
    this.filter = filter;
    this.#uris = new Set(filter.resourceSubscriptions);
  }

  wants(method: string, uri: string | undefined): boolean {
    if (uri !== undefined) {
      return method === "notifications/resources/updated" && this.#uris.has(uri);
    }
    const flag = LIST_FLAGS[method];
    return flag !== undefined && this.filter[flag] === true;
  }

  push(message: RpcMessage): void {
    this.#queue.push(encode(message));
    this.#wake.set();
  }

  end(): void {
    this.#ended = true;
    this.#wake.set();
  }

  /** Writes the queue until ended; the client going away throws `Cancelled`. */
  async run(stream: SseStream): Promise<void> {
    for (;;) {
      while (this.#queue.length) {
        await stream.send({ event: "message", data: this.#queue.shift()! });
      }
      if (this.#ended) return;
      this.#wake.clear();
      await this.#wake.wait();
    }
  }
}

/** The live `subscriptions/listen` streams of a server. */
export class Listeners {
  readonly #live = new Set<Listener>();
  #closed = false;

  /** Number of live subscriptions. */
  get size(): number {
    return this.#live.size;
  }

  /**
   * Serves one subscription on `stream` (from an `sse()` producer): the
   * acknowledgment first, then what it opted in to, until the client goes
   * away (this throws `Cancelled`) or {@linkcode Listeners.close}, which
   * sends `closing(id)` — the listen request's result — before returning.
   */
  async serve(
    stream: SseStream,
    id: RequestId,
    filter: SubscriptionFilter,
    closing: (id: RequestId) => RpcMessage,
  ): Promise<void> {
    const listener = new Listener(id, filter);
    listener.push({
      jsonrpc: "2.0",
      method: "notifications/subscriptions/acknowledged",
      params: { _meta: { [SUBSCRIPTION_ID]: id }, notifications: filter },
    });
    if (this.#closed) listener.end();
    else this.#live.add(listener);
    try {
      await listener.run(stream);
      await stream.send({ event: "message", data: encode(closing(id)) });
    } finally {
      this.#live.delete(listener);
    }
  }

  /**
   * Sends notification `method` to every subscription that opted in to it:
   * a list change, or with `uri` the update of that resource.
   */
  deliver(method: string, uri?: string): void {
    for (const listener of this.#live) {
      if (!listener.wants(method, uri)) continue;
      const params: Record<string, unknown> = { _meta: { [SUBSCRIPTION_ID]: listener.id } };
      if (uri !== undefined) params.uri = uri;
      listener.push({ jsonrpc: "2.0", method, params });
    }
  }

  /** Ends every subscription gracefully; later ones end at once. */
  close(): void {
    this.#closed = true;
    for (const listener of this.#live) listener.end();
  }
}

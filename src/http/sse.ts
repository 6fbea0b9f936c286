/**
 * Server-Sent Events: an event-stream response whose producer runs in the
 * connection's task, with `event`/`data`/`id`/`retry` framing and
 * heartbeat comments. When the client disconnects, the task is cancelled,
 * so the producer's waits throw `Cancelled`, and so does a pending `send`
 * (its `cause` is the write error).
 *
 * @module
 */
import { spawn } from "../task.ts";
import { sleep } from "../sleep.ts";
import { type HeadersInput, HttpResponse, PushBody } from "./response.ts";

const encoder = new TextEncoder();

/**
 * One event. `data` that is not a string is sent as JSON; a multi-line
 * string becomes several `data:` lines.
 *
 * @example
 * ```ts
 * import type { SseEvent } from "@lunet/lunet/http";
 * const ev: SseEvent = { event: "tick", id: "1", data: { n: 1 } };
 * ```
 */
export interface SseEvent {
  /** Event type (`event:` field). */
  event?: string;
  /** Payload (`data:` lines). */
  data?: unknown;
  /** Event id (`id:` field). */
  id?: string;
  /** Reconnection delay for the client, in ms (`retry:` field). */
  retry?: number;
}

/**
 * Options of {@linkcode sse}.
 *
 * @example
 * ```ts
 * import type { SseOptions } from "@lunet/lunet/http";
 * const opts: SseOptions = { heartbeat: 10_000 };
 * ```
 */
export interface SseOptions {
  /** Interval of heartbeat comments in ms (default 15 000; 0 disables). */
  heartbeat?: number;
  /** Extra response header fields. */
  headers?: HeadersInput;
}

// Builds the stream handed to a producer (the constructor of SseStream).
let makeStream: (write: (chunk: string | Uint8Array) => Promise<void>) => SseStream;

function checkLine(what: string, value: string): string {
  if (/[\r\n\0]/.test(value)) throw new TypeError(`SSE ${what} must not contain CR, LF or NUL`);
  return value;
}

/**
 * Formats one event as event-stream text.
 *
 * @example
 * ```ts
 * import { formatEvent } from "@lunet/lunet/http";
 * console.log(formatEvent({ event: "greet", data: "hi\nthere" }));
 * // "event: greet\ndata: hi\ndata: there\n\n"
 * ```
 */
export function formatEvent(ev: SseEvent | string): string {
  if (typeof ev === "string") ev = { data: ev };
  let out = "";
  if (ev.event !== undefined) out += "event: " + checkLine("event", ev.event) + "\n";
  if (ev.id !== undefined) out += "id: " + checkLine("id", ev.id) + "\n";
  if (ev.retry !== undefined) {
    if (!Number.isInteger(ev.retry) || ev.retry < 0) {
      throw new TypeError("SSE retry must be a non-negative integer");
    }
    out += "retry: " + ev.retry + "\n";
  }
  if (ev.data !== undefined) {
    const data = typeof ev.data === "string" ? ev.data : JSON.stringify(ev.data);
    for (const line of data.split(/\r\n|\r|\n/)) out += "data: " + line + "\n";
  }
  return out + "\n";
}

/**
 * The sending side of an event stream, handed to the producer of
 * {@linkcode sse}.
 *
 * @example
 * ```ts
 * import { sse } from "@lunet/lunet/http";
 * const res = sse(async (stream) => {
 *   await stream.send({ event: "hello", data: "world" });
 *   await stream.comment("still here");
 * });
 * ```
 */
export class SseStream {
  #write: (chunk: string | Uint8Array) => Promise<void>;

  /** @ignore */
  private constructor(write: (chunk: string | Uint8Array) => Promise<void>) {
    this.#write = write;
  }

  static {
    makeStream = (write) => new SseStream(write);
  }

  /**
   * Sends one event (a string is sent as `data`). Once the client is gone,
   * fails with `Cancelled`, caused by the write error.
   */
  send(ev: SseEvent | string): Promise<void> {
    return this.#write(encoder.encode(formatEvent(ev)));
  }

  /** Sends a comment line (ignored by clients; keeps proxies from timing out). */
  comment(text = ""): Promise<void> {
    return this.#write(`: ${checkLine("comment", text)}\n\n`);
  }
}

/**
 * An event-stream response. `producer` runs in the connection's task
 * after the head is sent; the stream ends when it returns. Heartbeat
 * comments go out every `opts.heartbeat` ms meanwhile. When the client
 * disconnects, the task is cancelled: the producer's lunet waits throw
 * `Cancelled`, and a pending `send` (or `comment`) fails with `Cancelled`
 * whose `cause` is the write error.
 *
 * @example
 * ```ts
 * import { sleep } from "@lunet/lunet";
 * import { serve, sse } from "@lunet/lunet/http";
 * const server = await serve(() =>
 *   sse(async (stream) => {
 *     for (let i = 1; i <= 3; i++) {
 *       await stream.send({ event: "tick", id: String(i), data: { i } });
 *       await sleep(100);
 *     }
 *   }), { port: 0 });
 * await server.shutdown();
 * ```
 */
export function sse(
  producer: (stream: SseStream) => Promise<void> | void,
  opts: SseOptions = {},
): HttpResponse {
  const heartbeat = opts.heartbeat ?? 15_000;
  const body = new PushBody(async (write) => {
    const stream = makeStream(write);
    const beat = heartbeat > 0
      ? spawn(async () => {
        for (;;) {
          await sleep(heartbeat);
          await stream.comment();
        }
      }, { name: "sse heartbeat" })
      : undefined;
    try {
      await producer(stream);
    } finally {
      if (beat) {
        beat.cancel();
        await beat.then(undefined, () => {});
      }
    }
  });
  return new HttpResponse(body, { headers: opts.headers }, SSE_HEADERS);
}

const SSE_HEADERS: ReadonlyArray<readonly [string, string]> = Object.freeze(
  [
    ["content-type", "text/event-stream"],
    ["cache-control", "no-cache"],
  ] as const,
);

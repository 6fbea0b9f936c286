/**
 * SSE fan-out on a message bus: events published to one topic reach every
 * event-stream connection of it, on every worker, process or machine the
 * bus reaches; with a replay log, a client reconnecting with
 * `Last-Event-ID` first gets what it missed, on whichever instance it
 * lands.
 *
 * @module
 */
import type { Bus } from "../bus/_types.ts";
import { compareIds } from "../bus/_ids.ts";
import type { WaitOptions } from "../_wait.ts";
import type { HttpRequest } from "./request.ts";
import type { HttpResponse } from "./response.ts";
import { sse, type SseOptions } from "./sse.ts";

/**
 * Options of {@linkcode sseFanout}.
 *
 * @example
 * ```ts
 * import type { SseFanoutOptions } from "@lunet/lunet/http";
 * const opts: SseFanoutOptions = { log: "prices", heartbeat: 10_000 };
 * if (opts.log !== "prices") throw new Error("log");
 * ```
 */
export interface SseFanoutOptions extends SseOptions {
  /**
   * Keeps the events in the bus's replay log of this name too, gives each
   * the log's id (`id:`) and replays what follows a client's
   * `Last-Event-ID`. Without it events have no id and are not kept.
   */
  log?: string;
  /** Reconnection delay suggested to clients, ms (`retry:`; not sent by default). */
  retry?: number;
}

/**
 * One topic's event streams: {@linkcode SseFanout.publish} on any instance,
 * {@linkcode SseFanout.respond} to each client.
 *
 * @example
 * ```ts
 * import { localBus } from "@lunet/lunet/bus";
 * import { sseFanout } from "@lunet/lunet/http";
 * const bus = localBus();
 * const news = sseFanout(bus, "news", { log: "news" });
 * await news.publish("first", { event: "headline" });
 * await bus.close();
 * ```
 */
export interface SseFanout {
  /** The bus topic. */
  readonly topic: string;
  /** Sends `data` (one event; `event` names its type) to every connection of the topic. */
  publish(data: string, opts?: WaitOptions & { event?: string }): Promise<void>;
  /**
   * An event-stream response for `req` that carries the topic's events
   * until the client goes away: it subscribes before it returns, so what is
   * published after that reaches it, and with a log it first replays what
   * followed the request's `Last-Event-ID`, each event once.
   */
  respond(req: HttpRequest): Promise<HttpResponse>;
}

/** What travels on the topic. */
interface Carried {
  id?: string;
  e?: string;
  d: string;
}

/**
 * The event streams of `topic` on `bus` (a `localBus` across the workers
 * of a process, a `redisBus` across instances).
 *
 * @param bus where the events travel
 * @param topic the bus topic
 * @param opts the replay log, heartbeat, header fields and retry hint of the streams
 * @returns publish and respond
 *
 * @example Publish on one server, receive on a stream of it
 * ```ts
 * import assert from "node:assert/strict";
 * import { localBus } from "@lunet/lunet/bus";
 * import { serve, sseFanout } from "@lunet/lunet/http";
 * const bus = localBus();
 * const ticks = sseFanout(bus, "ticks", { log: "ticks", heartbeat: 0 });
 * const server = await serve((req) => ticks.respond(req), { port: 0 });
 * const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * await ticks.publish("1", { event: "tick" });
 * const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
 * let text = "";
 * while (!text.includes("\n\n")) text += (await reader.read()).value;
 * assert.match(text, /event: tick\nid: \d+-\d+\ndata: 1\n\n/);
 * await reader.cancel();
 * await server.shutdown();
 * await bus.close();
 * ```
 */
export function sseFanout(bus: Bus, topic: string, opts: SseFanoutOptions = {}): SseFanout {
  const { log, retry } = opts;
  return {
    topic,
    async publish(data, wait) {
      const carried: Carried = { d: data };
      if (wait?.event !== undefined) carried.e = wait.event;
      if (log !== undefined) carried.id = await bus.append(log, JSON.stringify(carried), wait);
      await bus.publish(topic, JSON.stringify(carried), wait);
    },
    async respond(req) {
      const sub = await bus.subscribe(topic);
      const resume = log === undefined ? null : req.headers.get("last-event-id");
      return sse(async (stream) => {
        try {
          if (retry !== undefined) await stream.send({ retry });
          let last = resume ?? undefined;
          if (resume !== null) {
            for (const entry of await bus.readAfter(log!, resume)) {
              const c = parse(entry.data);
              if (!c) continue;
              await stream.send({ event: c.e, id: entry.id, data: c.d });
              last = entry.id;
            }
          }
          for await (const msg of sub) {
            const c = parse(msg.data);
            if (!c || (c.id !== undefined && last !== undefined && compareIds(c.id, last) <= 0)) {
              continue; // replayed already
            }
            await stream.send({ event: c.e, id: c.id, data: c.d });
            if (c.id !== undefined) last = c.id;
          }
        } finally {
          await sub.close();
        }
      }, opts);
    },
  };
}

function parse(data: string): Carried | undefined {
  try {
    const c = JSON.parse(data);
    return typeof c?.d === "string" ? c : undefined;
  } catch {
    return undefined; // not published by a fan-out
  }
}

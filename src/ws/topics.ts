/**
 * Topics: a connection subscribes with `ws.subscribe(topic)`, and
 * {@linkcode publish} sends a message to every subscriber in the process,
 * across the workers of `serve({ workers })` too (through a
 * `BroadcastChannel`). Each publication is framed once and written to
 * every subscriber without waiting for it; a subscriber whose unwritten
 * bytes would pass its `maxBufferedBytes` (default 1 MiB) is dropped with
 * close code 1013, so a slow reader never makes the server buffer without
 * bound.
 *
 * @module
 */
import { hub } from "./_hub.ts";

/**
 * Publishes `data` (a string as text, bytes as binary) to every connection
 * subscribed to `topic`, in this worker and the others of the process.
 * Returns how many subscribers of this worker it was handed to.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "@lunet/lunet/http";
 * import { accept, connect, publish } from "@lunet/lunet/ws";
 * const server = await serve(async (req) => {
 *   const ws = await accept(req);
 *   ws.subscribe("news");
 *   await ws.send("joined");
 *   for await (const _ of ws);
 * }, { port: 0 });
 * const ws = await connect(`ws://127.0.0.1:${server.addr.port}/`);
 * assert.equal(await ws.recv(), "joined");
 * assert.equal(publish("news", "hello"), 1);
 * assert.equal(await ws.recv(), "hello");
 * await ws.close();
 * await server.shutdown();
 * ```
 */
export function publish(topic: string, data: string | Uint8Array): number {
  return hub.publish(topic, data);
}

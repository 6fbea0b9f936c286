/**
 * sseFanout on a Redis bus: two servers, each with its own connection (two
 * instances), publish on one, every stream of both receives; a client
 * that reconnects to the other with `Last-Event-ID` gets what it missed,
 * once and in order.
 */
import assert from "node:assert/strict";
import * as redis from "../drivers/redis.ts";
import { redisBus } from "../src/bus.ts";
import { serve, type Server, sseFanout } from "../src/http/mod.ts";
import { events, type SseEvent } from "./mcp_helpers.ts";

async function take(reader: AsyncGenerator<SseEvent>, n: number): Promise<SseEvent[]> {
  const got: SseEvent[] = [];
  while (got.length < n) {
    const r = await reader.next();
    if (r.done) throw new Error(`stream ended after ${got.length} of ${n}`);
    got.push(r.value);
  }
  return got;
}

Deno.test("sseFanout on Redis: events reach the streams of every instance, Last-Event-ID replays on another", async () => {
  const prefix = `lunet:test:fanout:${crypto.randomUUID()}:`;
  const dbs = await Promise.all([0, 1].map(() => redis.open("redis://127.0.0.1:6379")));
  const buses = dbs.map((db) => redisBus(db, { prefix, maxLen: 100 }));
  const fans = buses.map((bus) => sseFanout(bus, "prices", { log: "prices", heartbeat: 0 }));
  const servers: Server[] = [];
  const readers: AsyncGenerator<SseEvent>[] = [];
  try {
    for (const fan of fans) servers.push(await serve((req) => fan.respond(req), { port: 0 }));
    const [urlA, urlB] = servers.map((s) => `http://127.0.0.1:${s.addr.port}/`);
    const onA = events(await fetch(urlA));
    const onB = events(await fetch(urlB));
    readers.push(onA, onB);
    // respond() subscribed before answering: what is published now reaches both.
    await fans[0].publish("1.00", { event: "price" });
    await fans[1].publish("1.01", { event: "price" });
    const [a, b] = await Promise.all([take(onA, 2), take(onB, 2)]);
    assert.deepEqual(a.map((e) => e.data), ["1.00", "1.01"]);
    assert.deepEqual(b.map((e) => e.data), ["1.00", "1.01"]);
    assert.deepEqual(a.map((e) => e.id), b.map((e) => e.id), "the log's ids on every instance");
    assert.equal(a[0].event, "price");
    // The client on A goes away after the first; meanwhile two more; it comes back on B.
    await onA.return(undefined);
    await fans[0].publish("1.02");
    await fans[0].publish("1.03");
    const back = events(await fetch(urlB, { headers: { "last-event-id": a[0].id! } }));
    readers.push(back);
    await fans[1].publish("1.04");
    const resumed = await take(back, 4);
    assert.deepEqual(resumed.map((e) => e.data), ["1.01", "1.02", "1.03", "1.04"]);
    assert.deepEqual((await take(onB, 3)).map((e) => e.data), ["1.02", "1.03", "1.04"]);
  } finally {
    await Promise.all(readers.map((r) => r.return(undefined)));
    await Promise.all(servers.map((s) => s.shutdown()));
    await Promise.all(buses.map((b) => b.close()));
    await dbs[0].del(`${prefix}prices`);
    await Promise.all(dbs.map((db) => db.close()));
  }
});

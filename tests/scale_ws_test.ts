/**
 * WebSocket topics across two processes on Redis (`topicsOnBus`): a
 * message published on one instance reaches the subscribers of the other.
 * Instance A runs in the test, instance B in a child process; each
 * connection subscribes to "room", and each instance publishes what its
 * clients send.
 */
import assert from "node:assert/strict";
import * as redis from "../drivers/redis.ts";
import { redisBus } from "../src/bus.ts";
import { serve } from "../src/http/mod.ts";
import { accept, connect, publish, topicsOnBus, type WsConn } from "../src/ws/mod.ts";
import type { HttpRequest } from "../src/http/mod.ts";

const url = (path: string) => new URL(path, import.meta.url).href;

/** Instance B: the same handler, in a process of its own; it prints its port. */
function instanceB(prefix: string): string {
  return `
    import * as redis from "${url("../drivers/redis.ts")}";
    import { redisBus } from "${url("../src/bus.ts")}";
    import { serve } from "${url("../src/http/mod.ts")}";
    import { accept, publish, topicsOnBus } from "${url("../src/ws/mod.ts")}";
    const db = await redis.open("redis://127.0.0.1:6379");
    topicsOnBus(redisBus(db, { prefix: "${prefix}" }));
    const server = await serve(async (req) => {
      const ws = await accept(req);
      ws.subscribe("room");
      for await (const msg of ws) publish("room", msg);
    }, { port: 0 });
    console.log(server.addr.port);
  `;
}

async function room(req: HttpRequest): Promise<void> {
  const ws = await accept(req);
  ws.subscribe("room");
  for await (const msg of ws) publish("room", msg);
}

/** The next message of `ws` that `want` accepts (others skipped), within `ms`. */
async function recvWhere(
  ws: WsConn,
  want: (m: string | Uint8Array) => boolean,
  ms = 5000,
): Promise<string | Uint8Array> {
  const deadline = Date.now() + ms;
  for (;;) {
    const msg = await ws.recv({ deadline });
    if (msg === null) throw new Error("closed");
    if (want(msg)) return msg;
  }
}

Deno.test("ws topics on a Redis bus reach the subscribers of another process", async () => {
  const prefix = `lunet:test:ws:${crypto.randomUUID()}:`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", instanceB(prefix)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const db = await redis.open("redis://127.0.0.1:6379");
  const stop = topicsOnBus(redisBus(db, { prefix }));
  const server = await serve(room, { port: 0 });
  const conns: WsConn[] = [];
  try {
    const portB = Number((await lines.read()).value!.trim());
    const onA = await connect(`ws://127.0.0.1:${server.addr.port}/`);
    const onB = await connect(`ws://127.0.0.1:${portB}/`);
    conns.push(onA, onB);
    // Until B's hub has its subscription on the bus, what A publishes does not reach it.
    let reached = false;
    for (let i = 0; !reached; i++) {
      assert.ok(i < 100, "B never subscribed on the bus");
      await onA.send(`probe ${i}`);
      reached = await recvWhere(onB, (m) => m === `probe ${i}`, 200).then(
        () => true,
        () => false,
      );
    }
    await onA.send("from A");
    assert.equal(await recvWhere(onB, (m) => m === "from A"), "from A");
    await onB.send("from B");
    assert.equal(await recvWhere(onA, (m) => m === "from B"), "from B");
    await onB.send(new Uint8Array([1, 2, 3, 255]));
    const bytes = await recvWhere(onA, (m) => m instanceof Uint8Array);
    assert.deepEqual([...(bytes as Uint8Array)], [1, 2, 3, 255]);
  } finally {
    await Promise.all(conns.map((c) => c.close()));
    await server.shutdown();
    await stop();
    await db.close();
    child.kill("SIGTERM");
    await child.status;
    await lines.cancel();
  }
});

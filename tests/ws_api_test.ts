/**
 * lunet/ws behaviour: who closes with which code, refused handshakes,
 * waits and cancellation, backpressure, limits, idle timeout, topics in
 * one worker and across `serve({ workers })`, and bad input that never
 * crashes the server.
 */
import assert from "node:assert/strict";
import { Cancelled, sleep, spawn, TimeoutError } from "../mod.ts";
import { serve, type Server } from "../src/http/mod.ts";
import { accept, type AcceptOptions, connect, publish, type WsConn } from "../src/ws/mod.ts";
import { noLeaks } from "./leak.ts";
import { closeCode, frame, rawClient } from "./fixtures/ws/raw.ts";

function wsServer(
  handler: (ws: WsConn) => Promise<void> | void,
  opts: AcceptOptions = {},
): Promise<Server> {
  return serve(async (req) => {
    const ws = await accept(req, { pingInterval: 0, ...opts });
    await handler(ws);
  }, { port: 0 });
}

const url = (s: Server, path = "/") => `ws://127.0.0.1:${s.addr.port}${path}`;

Deno.test(
  "ws: the handler's end closes the connection (return 1000, throw 1011, shutdown 1001)",
  noLeaks(async (t) => {
    await t.step("return → 1000", async () => {
      const server = await wsServer(async (ws) => await ws.send("bye"));
      const ws = await connect(url(server));
      assert.equal(await ws.recv(), "bye");
      assert.equal(await ws.recv(), null);
      assert.deepEqual(await ws.closed, { code: 1000, reason: "", wasClean: true });
      await server.shutdown();
    });
    await t.step("throw → 1011", async () => {
      const server = await serve(async (req) => {
        await accept(req, { pingInterval: 0 });
        throw new Error("boom");
      }, { port: 0, onError: () => {} });
      const ws = await connect(url(server));
      assert.equal(await ws.recv(), null);
      assert.equal((await ws.closed).code, 1011);
      await server.shutdown();
    });
    await t.step("server shutdown cancels the handler → 1001", async () => {
      const server = await wsServer(async (ws) => {
        for await (const _ of ws);
      });
      const ws = await connect(url(server));
      await server.shutdown({ timeout: 50 });
      assert.equal(await ws.recv(), null);
      assert.equal((await ws.closed).code, 1001);
    });
  }),
);

Deno.test(
  "ws: requests that are not a valid upgrade are refused",
  noLeaks(async () => {
    const server = await wsServer(() => {}, {
      allowedOrigins: ["https://good.example"],
      protocols: ["b"],
    });
    const base = `http://127.0.0.1:${server.addr.port}/`;
    try {
      const plain = await fetch(base);
      assert.equal(plain.status, 400);
      await plain.body?.cancel();
      const evil = await rawClient(server.addr.port!, "Origin: https://evil.example\r\n");
      evil.peer.close();
      assert.match(evil.head, /^HTTP\/1.1 403/);
      // A version other than 13, sent by hand.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port! });
      await conn.write(
        new TextEncoder().encode(
          "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
        ),
      );
      const buf = new Uint8Array(4096);
      const n = await conn.read(buf);
      conn.close();
      const refused = new TextDecoder().decode(buf.subarray(0, n!));
      assert.match(refused, /^HTTP\/1.1 426/);
      assert.match(refused, /\r\nupgrade: websocket\r\n/i);
      assert.match(refused, /\r\nsec-websocket-version: 13\r\n/i);
      // Subprotocols: the server's one that the client offers.
      const ws = await connect(url(server), {
        protocols: ["a", "b"],
        headers: { Origin: "https://good.example" },
      });
      assert.equal(ws.protocol, "b");
      await ws.closed;
    } finally {
      await server.shutdown();
    }
  }),
);

Deno.test(
  "ws: waits take WaitOptions, are cancellable and lose nothing",
  noLeaks(async () => {
    const server = await wsServer(async (ws) => {
      await ws.recv(); // "go"
      await sleep(100);
      await ws.send("late");
      for await (const _ of ws);
    });
    const ws = await connect(url(server));
    try {
      await ws.send("go");
      await assert.rejects(ws.recv({ timeout: 10 }), TimeoutError);
      const ac = new AbortController();
      const pending = ws.recv({ signal: ac.signal });
      ac.abort();
      await assert.rejects(pending, Cancelled);
      const task = spawn(() => ws.recv());
      task.cancel();
      await assert.rejects(Promise.resolve(task), Cancelled);
      const first = ws.recv();
      await assert.rejects(ws.recv(), /another recv/);
      assert.equal(await first, "late");
      assert.ok(await ws.ping("rtt") >= 0);
    } finally {
      await ws.close();
      await server.shutdown();
    }
  }),
);

Deno.test(
  "ws: messages queued from one read stay intact after the read buffer is reused",
  noLeaks(async () => {
    const got = Promise.withResolvers<Array<string | Uint8Array>>();
    const server = await wsServer(async (ws) => {
      // Let everything arrive (and be parsed) before taking any message.
      await sleep(200);
      const out: Array<string | Uint8Array> = [];
      for (let i = 0; i < 24; i++) out.push((await ws.recv())!);
      got.resolve(out);
      await ws.close();
    });
    const { peer } = await rawClient(server.addr.port!);
    const bytes = (n: number, seed: number) =>
      Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
    const sizes = [
      1,
      60,
      125,
      126,
      200,
      1000,
      5000,
      70_000,
      3,
      64,
      17,
      40_000,
      2,
      90,
      300,
      8,
      1,
      126,
      1024,
      65_536,
    ];
    const frames = sizes.map((n, i) => frame({ op: 2, payload: bytes(n, i) }));
    // A fragmented binary message with a ping between its fragments, and text.
    frames.push(frame({ op: 2, payload: bytes(100, 50), fin: false }));
    frames.push(frame({ op: 9, payload: "p" }));
    frames.push(frame({ op: 0, payload: bytes(70_000, 51), fin: false }));
    frames.push(frame({ op: 0, payload: bytes(10, 52) }));
    frames.push(frame({ op: 1, payload: "héllo wörld" }));
    frames.push(frame({ op: 2, payload: bytes(300, 60) }));
    const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of frames) {
      all.set(f, at);
      at += f.length;
    }
    // The last header is split across two writes.
    const last = all.length - frames.at(-1)!.length + 1;
    await peer.send(all.subarray(0, last));
    await sleep(20);
    await peer.send(all.subarray(last));
    await peer.send(frame({ op: 1, payload: "end" }));
    await peer.send(frame({ op: 1, payload: "more" }));
    const out = await got.promise;
    sizes.forEach((n, i) => assert.deepEqual(out[i], bytes(n, i), `message ${i} (${n} bytes)`));
    const frag = new Uint8Array(70_110);
    frag.set(bytes(100, 50));
    frag.set(bytes(70_000, 51), 100);
    frag.set(bytes(10, 52), 70_100);
    assert.deepEqual(out[20], frag);
    assert.equal(out[21], "héllo wörld");
    assert.deepEqual(out[22], bytes(300, 60));
    assert.equal(out[23], "end");
    peer.close();
    await server.shutdown();
  }),
);

Deno.test(
  "ws: a handler that reads late gets every message in order; a peer flooding pings unread gets every pong",
  noLeaks(async () => {
    const N = 300, SIZE = 8192;
    const got = Promise.withResolvers<number[]>();
    const server = await wsServer(async (ws) => {
      if ((await ws.recv()) === "flood") {
        // Pings answered while this handler does nothing else.
        for (let msg; (msg = await ws.recv()) !== null;) await ws.send(msg);
        return;
      }
      // Far more than the inbox holds arrives before the first recv: the
      // reader stops reading, then resumes as messages are taken.
      await sleep(300);
      const seen: number[] = [];
      for (let i = 0; i < N; i++) {
        const msg = (await ws.recv()) as Uint8Array;
        assert.equal(msg.length, SIZE);
        seen.push(msg[0] | (msg[1] << 8));
      }
      got.resolve(seen);
      await ws.send("done");
    });
    const client = await connect(url(server));
    await client.send("late");
    for (let i = 0; i < N; i++) {
      const payload = new Uint8Array(SIZE);
      payload[0] = i & 0xff;
      payload[1] = i >> 8;
      await client.send(payload);
    }
    assert.deepEqual(await got.promise, Array.from({ length: N }, (_, i) => i));
    assert.equal(await client.recv(), "done");
    await client.close();

    // A raw peer sends pings and never reads: the pongs the server owes
    // fill the socket, the server stops reading instead of queueing pongs,
    // and once the peer reads again every pong and the echo arrive.
    const { peer } = await rawClient(server.addr.port!);
    await peer.send(frame({ op: 1, payload: "flood" }));
    const ping = frame({ op: 9, payload: new Uint8Array(125).fill(7) });
    const PINGS = 20_000;
    const burst = new Uint8Array(ping.length * 1000);
    for (let i = 0; i < 1000; i++) burst.set(ping, i * ping.length);
    const sending = (async () => {
      for (let i = 0; i < PINGS / 1000; i++) await peer.send(burst);
      await peer.send(frame({ op: 1, payload: "after" }));
    })();
    await sleep(300);
    // Each pong is 127 bytes (0x8a 0x7d and the payload), the echo 7.
    const PONG = 127, total = PINGS * PONG + 7;
    const got2 = new Uint8Array(total);
    let n = 0;
    while (n < total) {
      const chunk = await peer.conn.read({ timeout: 10_000 });
      assert.ok(chunk !== null && n + chunk.length <= total, `stream ended or overran at ${n}`);
      got2.set(chunk, n);
      n += chunk.length;
    }
    await sending;
    for (let at = 0; at < PINGS * PONG; at += PONG) {
      if (got2[at] !== 0x8a || got2[at + 1] !== 125 || got2[at + 2] !== 7) {
        assert.fail(`pong ${at / PONG} malformed`);
      }
    }
    assert.equal(new TextDecoder().decode(got2.subarray(PINGS * PONG + 2)), "after");
    peer.close();
    await server.shutdown();
  }),
);

Deno.test(
  "ws: a client that never reads blocks send instead of growing memory",
  noLeaks(async () => {
    let sent = 0, buffered = 0;
    const blocked = Promise.withResolvers<void>();
    const server = await wsServer(async (ws) => {
      const chunk = new Uint8Array(64 * 1024);
      for (;;) {
        try {
          await ws.send(chunk, { timeout: 300 });
        } catch (err) {
          assert.ok(err instanceof TimeoutError);
          buffered = ws.bufferedAmount;
          blocked.resolve();
          return;
        }
        sent++;
      }
    });
    const { peer } = await rawClient(server.addr.port!);
    await blocked.promise;
    // The kernel buffers hold a few MiB at most; the sender waited.
    assert.ok(sent * 64 * 1024 < 64 << 20, `sent ${sent} messages`);
    assert.ok(buffered <= 64 * 1024 + 14);
    peer.close();
    await server.shutdown();
  }),
);

Deno.test(
  "ws: maxMessageBytes and idleTimeout",
  noLeaks(async (t) => {
    await t.step("a message over the client's limit → 1009", async () => {
      const server = await wsServer(async (ws) => {
        await ws.send("x".repeat(2000));
        await ws.closed;
      });
      const ws = await connect(url(server), { maxMessageBytes: 1000 });
      assert.equal(await ws.recv(), null);
      assert.equal((await ws.closed).code, 1009);
      await server.shutdown();
    });
    await t.step("an idle client is closed with 1001", async () => {
      const server = await wsServer(async (ws) => {
        for await (const _ of ws);
        assert.equal((await ws.closed).code, 1001);
      }, { idleTimeout: 100 });
      const ws = await connect(url(server));
      const info = await ws.closed;
      assert.equal(info.code, 1001);
      assert.equal(info.reason, "idle timeout");
      await server.shutdown();
    });
    await t.step(
      "pings from the shared timer: a client that pongs stays, a silent one is dropped",
      async () => {
        const server = await wsServer(async (ws) => {
          for await (const msg of ws) await ws.send(msg);
        }, { pingInterval: 60 });
        const live = await connect(url(server));
        const { peer } = await rawClient(server.addr.port!);
        const first = await peer.next(1000);
        assert.equal(first?.op, 9, "a ping comes");
        // No pong: the next interval drops the connection without a close frame.
        assert.ok(await peer.ended(1000), "the silent client is dropped");
        peer.close();
        await sleep(200);
        await live.send("still here");
        assert.equal(await live.recv(), "still here");
        assert.equal(live.closeInfo, undefined);
        await live.close();
        await server.shutdown();
      },
    );
    await t.step("close validates its code and reason", async () => {
      const server = await wsServer(async (ws) => {
        for await (const _ of ws);
      });
      const ws = await connect(url(server));
      await assert.rejects(ws.close(1005), RangeError);
      await assert.rejects(ws.close(1000, "x".repeat(124)), RangeError);
      await assert.rejects(ws.ping(new Uint8Array(126)), RangeError);
      assert.equal((await ws.close(4000, "ok")).code, 4000);
      assert.equal((await ws.close()).code, 4000, "a second close just waits");
      await server.shutdown();
    });
  }),
);

Deno.test(
  "ws: topics fan out, drop slow subscribers, and follow unsubscribe and close",
  noLeaks(async () => {
    const server = await wsServer(async (ws) => {
      ws.subscribe("t");
      await ws.send("ready");
      for await (const msg of ws) {
        if (msg === "leave") ws.unsubscribe("t");
        if (msg === "slow") {
          ws.unsubscribe("t");
          ws.subscribe("slow");
          await ws.send("joined slow");
        }
      }
    }, { maxBufferedBytes: 256 * 1024 });
    try {
      const clients = await Promise.all(
        [1, 2, 3].map(() => connect(url(server), { compress: true })),
      );
      for (const c of clients) assert.equal(await c.recv(), "ready");
      assert.equal(publish("t", "one"), 3);
      for (const c of clients) assert.equal(await c.recv(), "one");
      const big = new Uint8Array(1000).fill(1);
      assert.equal(publish("t", big), 3);
      for (const c of clients) assert.deepEqual(await c.recv(), big);
      await clients[0].send("leave");
      await clients[0].ping();
      await clients[1].close();
      await sleep(20);
      assert.equal(publish("t", "two"), 1);
      assert.equal(await clients[2].recv(), "two");
      // A subscriber that never reads is dropped with 1013.
      const { peer } = await rawClient(server.addr.port!);
      await peer.send(frame({ op: 1, payload: "slow" }));
      await peer.next(); // "ready"
      await peer.next(); // "joined slow"
      const chunk = new Uint8Array(64 * 1024);
      let dropped = false;
      for (let i = 0; i < 400 && !dropped; i++) {
        dropped = publish("slow", chunk) === 0;
        if (i % 20 === 0) await sleep(1);
      }
      assert.ok(dropped, "the slow subscriber left the topic");
      let code: number | undefined;
      for (let f; (f = await peer.next(2000));) if (f.op === 8) code = closeCode(f);
      assert.equal(code, 1013);
      peer.close();
      assert.equal(publish("t", "three"), 1);
      assert.equal(await clients[2].recv(), "three");
      await clients[0].close();
      await clients[2].close();
    } finally {
      await server.shutdown();
    }
  }),
);

Deno.test({
  name: "ws: publish reaches subscribers in every worker of serve({ workers })",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const server = await serve({
      workers: 2,
      port: 0,
      module: new URL("./fixtures/ws/topic_app.ts", import.meta.url),
    });
    try {
      const clients: WsConn[] = [];
      const workers = new Set<string>();
      for (let i = 0; i < 12 && (workers.size < 2 || clients.length < 4); i++) {
        const c = await connect(url(server));
        workers.add(String(await c.recv()));
        clients.push(c);
      }
      assert.equal(workers.size, 2, "connections landed on both workers");
      await sleep(50);
      await clients[0].send("pub hello all");
      for (const c of clients) assert.equal(await c.recv({ timeout: 5000 }), "hello all");
      for (const c of clients) await c.close();
    } finally {
      await server.shutdown();
    }
  },
});

Deno.test(
  "ws: bad input never crashes the server",
  noLeaks(async () => {
    const server = await wsServer(async (ws) => {
      for await (const msg of ws) await ws.send(msg);
    }, { compress: true, maxMessageBytes: 1 << 16 });
    try {
      let seed = 7;
      const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
      for (let round = 0; round < 60; round++) {
        const { peer } = await rawClient(
          server.addr.port!,
          round % 2 ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "",
        );
        const parts: Uint8Array[] = [];
        for (let i = 0; i < 5; i++) {
          const len = Math.floor(rand() * 300);
          const payload = crypto.getRandomValues(new Uint8Array(len));
          const f = frame({
            op: Math.floor(rand() * 16),
            payload,
            fin: rand() < 0.7,
            rsv: rand() < 0.2 ? 4 : 0,
          });
          parts.push(rand() < 0.1 ? crypto.getRandomValues(new Uint8Array(f.length)) : f);
        }
        const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of parts) all.set(p, (at += p.length) - p.length);
        await peer.sendChunked(all, 1 + Math.floor(rand() * 200)).catch(() => {});
        await peer.all(200);
        peer.close();
      }
      const ws = await connect(url(server));
      await ws.send("still alive");
      assert.equal(await ws.recv(), "still alive");
      await ws.close();
    } finally {
      await server.shutdown();
    }
  }),
);

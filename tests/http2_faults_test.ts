/**
 * HTTP/2 faults: a client killed in the middle of a request body and of a
 * response body, one that opens 100 streams and disappears, a shutdown
 * with 50 streams in flight (GOAWAY with the last stream id, those
 * streams finish, new ones are refused with REFUSED_STREAM), a client
 * that grants no window and one that stops reading. Each leaves no task,
 * socket or timer behind, and the server serves the next client.
 */
import assert from "node:assert/strict";
import { sleep } from "../mod.ts";
import { serve, type Server } from "../src/http/mod.ts";
import * as f from "../src/http/_h2_frames.ts";
import { RawClient, setting } from "./fixtures/h2/raw_client.ts";
import { noLeaks } from "./leak.ts";

const BIG = 4 * 1024 * 1024;

/** A server whose handlers report how they ended; `bodyTimeout` short so stalls end fast. */
async function withServer(
  fn: (server: Server, ended: string[]) => Promise<void>,
): Promise<void> {
  const ended: string[] = [];
  const server = await serve(async (req) => {
    try {
      if (req.path === "/slow") await sleep(300);
      if (req.path === "/hang") await sleep(60_000);
      if (req.path === "/read") return { n: (await req.bytes()).length };
      if (req.path === "/big") return new Uint8Array(BIG).fill(97);
      return { path: req.path };
    } finally {
      ended.push(req.path);
    }
  }, {
    port: 0,
    http2: "h2c",
    shutdownOnSignal: false,
    onError: () => {},
    bodyTimeout: 300,
    drainTimeout: 300,
  });
  try {
    await fn(server, ended);
    await stillServing(server);
    await until(() => server.connections === 0, "the last client's connection closed");
  } finally {
    await server.shutdown({ timeout: 1000 });
  }
}

async function stillServing(server: Server): Promise<void> {
  const c = await RawClient.open(server.addr.port!);
  try {
    await c.request(1, "/after");
    const res = await c.response(1);
    assert.deepEqual([res.status, JSON.parse(res.body)], ["200", { path: "/after" }]);
  } finally {
    c.close();
  }
}

/** Waits until `cond` holds (up to 3 s). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300 && !cond(); i++) await sleep(10);
  assert.ok(cond(), what);
}

Deno.test(
  "HTTP/2 a client killed in the middle of its request body",
  noLeaks(async () => {
    await withServer(async (server, ended) => {
      const c = await RawClient.open(server.addr.port!);
      await c.request(1, "/read", false);
      await c.frame(f.DATA, 0, 1, new Uint8Array(10_000));
      await sleep(50);
      c.close();
      await until(() => ended.includes("/read"), "the handler reading the body ended");
      await until(() => server.connections === 0, "the connection closed");
    });
  }),
);

Deno.test(
  "HTTP/2 a client killed in the middle of the response body",
  noLeaks(async () => {
    await withServer(async (server) => {
      const c = await RawClient.open(server.addr.port!);
      await c.frame(f.WINDOW_UPDATE, 0, 0, [0, 0x10, 0, 0]);
      await c.request(1, "/big");
      const first = await c.until(f.DATA, 1);
      assert.ok(first);
      c.close();
      await until(() => server.connections === 0, "the connection closed");
    });
  }),
);

Deno.test(
  "HTTP/2 a client that opens 100 streams and disappears",
  noLeaks(async () => {
    await withServer(async (server, ended) => {
      const c = await RawClient.open(server.addr.port!);
      for (let id = 1; id < 200; id += 2) await c.request(id, "/hang");
      await sleep(100);
      c.close();
      await until(() => ended.length === 100, `100 handlers cancelled (${ended.length})`);
      await until(() => server.connections === 0, "the connection closed");
    });
  }),
);

Deno.test(
  "HTTP/2 shutdown with 50 streams in flight: GOAWAY, they finish, new ones are refused",
  noLeaks(async () => {
    const server = await serve(async (req) => {
      await sleep(400);
      return { path: req.path };
    }, { port: 0, http2: "h2c", shutdownOnSignal: false });
    const c = await RawClient.open(server.addr.port!);
    try {
      const ids = Array.from({ length: 50 }, (_, i) => 2 * i + 1);
      for (const id of ids) await c.request(id, `/s${id}`);
      await sleep(100);
      const stopping = server.shutdown({ timeout: 5000 });
      const goaway = await c.until(f.GOAWAY);
      assert.ok(goaway);
      assert.equal(f.read31(goaway.payload, 0), 99);
      assert.equal(f.read32(goaway.payload, 4), f.NO_ERROR);
      await c.request(101, "/late");
      const late = await c.until(f.RST_STREAM, 101);
      assert.ok(late);
      assert.equal(f.read32(late.payload, 0), f.REFUSED_STREAM);
      const all = await c.responses(ids);
      assert.deepEqual(
        all.map((r) => [r.status, JSON.parse(r.body).path]),
        ids.map((id) => ["200", `/s${id}`]),
      );
      await stopping;
      assert.equal(await c.next(2000), null, "the connection closed");
    } finally {
      c.close();
    }
  }),
);

Deno.test(
  "HTTP/2 a client that grants no window: the stream is reset (CANCEL) after bodyTimeout",
  noLeaks(async () => {
    await withServer(async (server) => {
      const c = await RawClient.open(server.addr.port!, false);
      await c.frame(f.SETTINGS, 0, 0, setting(4, 0));
      await c.request(1, "/big");
      assert.equal(await c.rst(1), f.CANCEL);
      await stillServing(server);
      c.close();
    });
  }),
);

Deno.test(
  "HTTP/2 a client that stops reading: the connection is closed after bodyTimeout",
  noLeaks(async () => {
    await withServer(async (server, ended) => {
      const c = await RawClient.open(server.addr.port!, false);
      await c.frame(f.SETTINGS, 0, 0, setting(4, 0x7fffffff));
      await c.frame(f.WINDOW_UPDATE, 0, 0, [0x7f, 0, 0, 0]);
      for (let id = 1; id < 20; id += 2) await c.request(id, "/big");
      await until(() => ended.length === 10, "the handlers answered");
      await until(() => server.connections === 0, "the connection was closed");
      c.close();
    });
  }),
);

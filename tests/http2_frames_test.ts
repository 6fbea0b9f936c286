/**
 * HTTP/2 at the frame level, over a raw TCP socket: every case of
 * tests/fixtures/h2/cases.ts (sections modelled on h2spec: preface, frame
 * sizes, each frame type's rules, stream states, flow control, HPACK
 * errors, SETTINGS values, malformed requests, floods and rapid reset)
 * gets exactly the GOAWAY or RST_STREAM code, status or PING ACK the case
 * names as the first answer; the stream limit, the graceful GOAWAY of a
 * shutdown, request trailers.
 */
import assert from "node:assert/strict";
import { sleep } from "../mod.ts";
import { serve, type Server } from "../src/http/mod.ts";
import { connect } from "../src/socket.ts";
import * as f from "../src/http/_h2_frames.ts";
import { RawClient } from "./fixtures/h2/raw_client.ts";
import { CASES } from "./fixtures/h2/cases.ts";
import { noLeaks } from "./leak.ts";

async function withServer(fn: (server: Server) => Promise<void>): Promise<void> {
  const server = await serve(async (req) => {
    if (req.path === "/slow") await sleep(2000);
    if (req.path === "/read") return { n: (await req.bytes()).length };
    return { path: req.path };
  }, { port: 0, http2: "h2c", shutdownOnSignal: false, onError: () => {} });
  try {
    await fn(server);
  } finally {
    await server.shutdown({ timeout: 500 });
  }
}

const H = f.END_HEADERS;

Deno.test(
  "HTTP/2 frame rules: each case gets its GOAWAY or RST_STREAM code, status or PING ACK",
  noLeaks(async (t) => {
    await withServer(async (server) => {
      for (const { section, name, act, expect, noSettings, ignore } of CASES) {
        await t.step(`${section} ${name}`, async () => {
          const c = await RawClient.open(server.addr.port!, !noSettings);
          try {
            await act(c);
            assert.deepEqual(await c.outcome(3000, ignore), expect);
          } finally {
            c.close();
          }
        });
      }
    });
  }),
);

Deno.test(
  "HTTP/2 streams beyond SETTINGS_MAX_CONCURRENT_STREAMS are refused",
  noLeaks(async () => {
    await withServer(async (server) => {
      const c = await RawClient.open(server.addr.port!);
      try {
        for (let i = 0; i < 101; i++) await c.request(2 * i + 1, "/slow");
        assert.equal(await c.rst(201), f.REFUSED_STREAM);
      } finally {
        c.close();
      }
    });
  }),
);

Deno.test(
  "HTTP/2 shutdown sends GOAWAY NO_ERROR with the last stream id and lets it finish",
  noLeaks(async () => {
    const server = await serve(async () => {
      await sleep(200);
      return "done";
    }, { port: 0, http2: "h2c", shutdownOnSignal: false });
    const c = await RawClient.open(server.addr.port!);
    try {
      await c.request(1);
      await sleep(50);
      const stopping = server.shutdown({ timeout: 3000 });
      const goaway = await c.until(f.GOAWAY);
      assert.ok(goaway);
      assert.equal(f.read31(goaway.payload, 0), 1);
      assert.equal(f.read32(goaway.payload, 4), f.NO_ERROR);
      const res = await c.response(1);
      assert.deepEqual([res.status, res.body], ["200", "done"]);
      await stopping;
    } finally {
      c.close();
    }
  }),
);

Deno.test(
  "HTTP/2 request trailers reach the handler through the body",
  noLeaks(async () => {
    const server = await serve(async (req) => {
      const text = await req.text();
      return { text, trailers: req.body.trailers };
    }, { port: 0, http2: "h2c", shutdownOnSignal: false });
    const c = await RawClient.open(server.addr.port!);
    try {
      await c.request(1, "/", false);
      await c.frame(f.DATA, 0, 1, new TextEncoder().encode("hello"));
      await c.frame(f.HEADERS, H | f.END_STREAM, 1, c.block([["x-checksum", "abc"]]));
      const res = await c.response(1);
      assert.deepEqual(JSON.parse(res.body), { text: "hello", trailers: [["x-checksum", "abc"]] });
    } finally {
      c.close();
      await server.shutdown();
    }
  }),
);

Deno.test(
  "HTTP/2 cleartext: bytes that only start like the preface are served as HTTP/1.1",
  noLeaks(async () => {
    await withServer(async (server) => {
      const conn = await connect("127.0.0.1", server.addr.port!);
      try {
        await conn.write(new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"));
        const got = new TextDecoder().decode((await conn.read({ timeout: 5000 }))!);
        assert.match(got, /^HTTP\/1\.1 505 /);
      } finally {
        conn.close();
      }
    });
  }),
);

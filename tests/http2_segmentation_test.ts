/**
 * HTTP/2 segmentation: the same client bytes — preface, SETTINGS, a
 * padded HEADERS continued by CONTINUATION, padded DATA, trailers — sent
 * whole and then split over TCP writes must get the same response each
 * time: split in two at every byte boundary and one byte a write for a
 * small exchange, in random small pieces for a large one (several
 * streams, a 100 KB body, WINDOW_UPDATEs on the way), and the HTTP/1.1
 * request asking for `Upgrade: h2c` split at every boundary. Nagle is off,
 * so every piece is its own segment.
 */
import assert from "node:assert/strict";
import { sleep } from "../mod.ts";
import { concat } from "../src/_bytes.ts";
import { serve, type Server } from "../src/http/mod.ts";
import * as f from "../src/http/_h2_frames.ts";
import { HpackEncoder } from "../src/http/_hpack_encoder.ts";
import {
  frameBytes,
  RawClient,
  requestFields,
  type Response,
  u32,
} from "./fixtures/h2/raw_client.ts";
import { noLeaks } from "./leak.ts";

const PARALLEL = 8;
const PAUSE = 2;
const H = f.END_HEADERS, ES = f.END_STREAM;
const text = (s: string) => new TextEncoder().encode(s);

/** Header blocks of one connection's encoder. */
class Blocks {
  #enc = new HpackEncoder();
  block(fields: [string, string][]): number[] {
    const out: number[] = [];
    this.#enc.encode(fields, out);
    return out;
  }
}

/** The small exchange: one POST over HEADERS + CONTINUATION + DATA, padded, with trailers. */
function small(): Uint8Array {
  const c = new Blocks();
  const block = c.block(requestFields("/echo", true, [["x-a", "1"], ["content-type", "text/x"]]));
  return concat([
    f.PREFACE,
    frameBytes(f.SETTINGS, 0, 0, []),
    frameBytes(f.HEADERS, f.PADDED, 1, [2, ...block.slice(0, 7), 0, 0]),
    frameBytes(f.CONTINUATION, H, 1, block.slice(7)),
    frameBytes(f.DATA, f.PADDED, 1, [3, ...text("hello "), 0, 0, 0]),
    frameBytes(f.DATA, 0, 1, text("world")),
    frameBytes(f.HEADERS, H | ES, 1, c.block([["x-sum", "42"]])),
  ]);
}

/** The large exchange: three streams, one with a 100 KB padded body, window credit sent along. */
function large(): Uint8Array {
  const c = new Blocks();
  const parts = [f.PREFACE, frameBytes(f.SETTINGS, 0, 0, [])];
  parts.push(frameBytes(f.WINDOW_UPDATE, 0, 0, u32(1 << 20)));
  parts.push(frameBytes(f.HEADERS, H | ES, 1, c.block(requestFields("/a"))));
  parts.push(frameBytes(f.HEADERS, H, 3, c.block(requestFields("/echo", true))));
  for (let i = 0; i < 100; i++) {
    const piece = text(String.fromCharCode(97 + i % 26).repeat(1000));
    parts.push(frameBytes(f.DATA, f.PADDED, 3, [i % 7, ...piece, ...new Uint8Array(i % 7)]));
  }
  parts.push(frameBytes(f.DATA, ES, 3, []));
  parts.push(frameBytes(f.HEADERS, H | ES, 5, c.block(requestFields("/b", false, [["x-b", "2"]]))));
  return concat(parts);
}

/** The request asking for `Upgrade: h2c`, then the preface and SETTINGS. */
function upgrade(): Uint8Array {
  return concat([
    text(
      "GET /up HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\n" +
        "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n",
    ),
    f.PREFACE,
    frameBytes(f.SETTINGS, 0, 0, []),
  ]);
}

type Answer = { head?: string; responses: Response[] };

/** Sends `bytes` in `pieces` (lengths), then reads the responses on `streams`. */
async function exchange(
  server: Server,
  bytes: Uint8Array,
  pieces: number[],
  streams: number[],
  http1: boolean,
): Promise<Answer> {
  const c = await RawClient.open(server.addr.port!, false, false);
  try {
    c.conn.setNoDelay(true);
    let at = 0;
    for (const n of pieces) {
      await c.conn.write(bytes.subarray(at, at + n));
      at += n;
      await sleep(PAUSE);
    }
    await c.conn.write(bytes.subarray(at));
    const head = http1 ? (await c.http1Head()).split("\r\n")[0] : undefined;
    return { head, responses: await c.responses(streams) };
  } finally {
    c.close();
  }
}

/** Runs `splits` (each a list of piece lengths) `PARALLEL` at a time; each answer must be `whole`. */
async function allSame(
  server: Server,
  bytes: Uint8Array,
  splits: number[][],
  streams: number[],
  http1 = false,
): Promise<void> {
  const whole = await exchange(server, bytes, [], streams, http1);
  let next = 0;
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next < splits.length) {
      const split = splits[next++];
      const got = await exchange(server, bytes, split, streams, http1);
      assert.deepEqual(got, whole, `split ${JSON.stringify(split)}`);
    }
  }));
}

function everyBoundary(n: number): number[][] {
  return Array.from({ length: n - 1 }, (_, i) => [i + 1]);
}

async function withServer(fn: (server: Server) => Promise<void>): Promise<void> {
  const server = await serve(async (req) => {
    if (req.path !== "/echo") return { path: req.path, b: req.headers.get("x-b") };
    const body = await req.text();
    return {
      length: body.length,
      head: body.slice(0, 12),
      a: req.headers.get("x-a"),
      trailers: req.body.trailers,
    };
  }, { port: 0, http2: "h2c", shutdownOnSignal: false, compress: false });
  try {
    await fn(server);
  } finally {
    await server.shutdown({ timeout: 1000 });
  }
}

Deno.test(
  "HTTP/2 segmentation: a small exchange split at every byte boundary, and a byte a write",
  noLeaks(async () => {
    await withServer(async (server) => {
      const bytes = small();
      const whole = await exchange(server, bytes, [], [1], false);
      assert.equal(whole.responses[0].status, "200");
      assert.deepEqual(JSON.parse(whole.responses[0].body), {
        length: 11,
        head: "hello world",
        a: "1",
        trailers: [["x-sum", "42"]],
      });
      await allSame(server, bytes, [
        ...everyBoundary(bytes.length),
        Array(bytes.length - 1).fill(1),
      ], [1]);
    });
  }),
);

Deno.test(
  "HTTP/2 segmentation: a large exchange in random small pieces",
  noLeaks(async () => {
    await withServer(async (server) => {
      const bytes = large();
      const splits = Array.from({ length: 16 }, () => {
        const out: number[] = [];
        for (let at = 0; at < bytes.length - 3000;) {
          const n = 1 + Math.floor(Math.random() * (Math.random() < 0.5 ? 16 : 3000));
          out.push(n);
          at += n;
        }
        return out;
      });
      const whole = await exchange(server, bytes, [], [1, 3, 5], false);
      assert.deepEqual(JSON.parse(whole.responses[1].body).length, 100_000);
      await allSame(server, bytes, splits, [1, 3, 5]);
    });
  }),
);

Deno.test(
  "HTTP/2 segmentation: the Upgrade: h2c request split at every byte boundary",
  noLeaks(async () => {
    await withServer(async (server) => {
      const bytes = upgrade();
      const whole = await exchange(server, bytes, [], [1], true);
      assert.equal(whole.head, "HTTP/1.1 101 Switching Protocols");
      assert.deepEqual(JSON.parse(whole.responses[0].body), { path: "/up", b: null });
      await allSame(server, bytes, everyBoundary(bytes.length), [1], true);
    });
  }),
);

/**
 * A WebSocket exchange's answer does not depend on how its bytes are split
 * into reads: the same client frames (a fragmented text message whose
 * UTF-8 characters straddle the fragments, a ping between them, 16- and
 * 64-bit lengths, a binary message, a close) are sent whole, split at
 * every byte boundary of a small exchange, and in random small pieces of
 * a large one; the server's frames are the same every time. A text
 * message with an invalid byte fails with 1007 wherever the split falls.
 */
import assert from "node:assert/strict";
import { noLeaks } from "./leak.ts";
import {
  closeBody,
  closeCode,
  concat,
  echoServer,
  enc,
  type Frame,
  frame,
  rawClient,
  type RawPeer,
} from "./fixtures/ws/raw.ts";

const TEXT = 1, BIN = 2, CLOSE = 8, PING = 9, CONT = 0;

/** Sends `pieces` as separate writes (a pause between, so they arrive as separate reads). */
async function sendPieces(peer: RawPeer, bytes: Uint8Array, cuts: number[]): Promise<void> {
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut <= at) continue;
    await peer.send(bytes.subarray(at, cut));
    await new Promise((r) => setTimeout(r, 1));
    at = cut;
  }
}

/**
 * What the server sends back for `bytes` (sent in pieces cut at `cuts`):
 * each frame as op, fin and payload, until `frames` have come or the
 * server closes; then the client closes (whole, so no echo races its
 * close) and the server's close is the last entry.
 */
async function answer(
  port: number,
  bytes: Uint8Array,
  cuts: number[],
  frames = 0,
): Promise<string[]> {
  const { peer } = await rawClient(port);
  try {
    await sendPieces(peer, bytes, cuts);
    const out: string[] = [];
    const show = (f: Frame) =>
      f.op === CLOSE ? `close ${closeCode(f)}` : `${f.op}:${f.fin}:${Array.from(f.payload)}`;
    for (let f: Frame | undefined; (f = await peer.next(5000));) {
      out.push(show(f));
      if (f.op === CLOSE) return out;
      if (out.length === frames) break;
    }
    await peer.send(frame({ op: CLOSE, payload: closeBody(1000, "bye") }));
    const f = await peer.next(5000);
    out.push(f ? show(f) : "end");
    return out;
  } finally {
    peer.close();
  }
}

// "héllo wörld €" split inside its two- and three-byte characters.
const text = enc.encode("héllo wörld €");
const small = concat([
  frame({ op: TEXT, payload: text.subarray(0, 2), fin: false }),
  frame({ op: PING, payload: "p" }),
  frame({ op: CONT, payload: text.subarray(2, 9), fin: false }),
  frame({ op: CONT, payload: text.subarray(9) }),
  frame({ op: BIN, payload: new Uint8Array(130).map((_, i) => i) }),
]);

Deno.test(
  "ws segmentation: a small exchange split at every byte boundary gets the same answer",
  noLeaks(async () => {
    const server = await echoServer({ pingInterval: 0 });
    try {
      const port = server.addr.port!;
      const whole = await answer(port, small, [], 3);
      assert.deepEqual(whole.map((s) => s.split(":")[0]), ["10", "1", "2", "close 1000"]);
      assert.equal(whole[1], `1:true:${Array.from(text)}`);
      for (let cut = 1; cut < small.length; cut++) {
        assert.deepEqual(await answer(port, small, [cut], 3), whole, `split at ${cut}`);
      }
      const bytewise = Array.from({ length: small.length }, (_, i) => i + 1);
      assert.deepEqual(await answer(port, small, bytewise, 3), whole, "a byte a write");
    } finally {
      await server.shutdown();
    }
  }),
);

Deno.test(
  "ws segmentation: large messages in random small pieces get the same answer",
  noLeaks(async () => {
    const server = await echoServer({ pingInterval: 0 });
    try {
      const big = new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff);
      const bytes = concat([
        frame({ op: BIN, payload: big.subarray(0, 40_000), fin: false }),
        frame({ op: PING, payload: "q" }),
        frame({ op: CONT, payload: big.subarray(40_000) }),
        frame({ op: TEXT, payload: "é".repeat(300) }),
      ]);
      const whole = await answer(server.addr.port!, bytes, [], 3);
      assert.deepEqual(whole.map((s) => s.split(":")[0]), ["10", "2", "1", "close 1000"]);
      let seed = 7;
      const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
      for (let round = 0; round < 5; round++) {
        const cuts: number[] = [];
        for (let at = 0; at < bytes.length; at += 1 + Math.floor(random() * 3000)) cuts.push(at);
        assert.deepEqual(await answer(server.addr.port!, bytes, cuts, 3), whole, `round ${round}`);
      }
    } finally {
      await server.shutdown();
    }
  }),
);

Deno.test(
  "ws segmentation: invalid UTF-8 fails with 1007 wherever the split falls",
  noLeaks(async () => {
    const server = await echoServer({ pingInterval: 0 });
    try {
      // A valid start, then 0xed 0xa0 0x80 (a surrogate) split across fragments.
      const bad = concat([
        frame({ op: TEXT, payload: new Uint8Array([0x61, 0xce, 0xba, 0xed]), fin: false }),
        frame({ op: CONT, payload: new Uint8Array([0xa0, 0x80, 0x61]) }),
      ]);
      for (let cut = 0; cut < bad.length; cut++) {
        const got = await answer(server.addr.port!, bad, cut === 0 ? [] : [cut]);
        assert.deepEqual(got, ["close 1007"], `split at ${cut}`);
      }
    } finally {
      await server.shutdown();
    }
  }),
);

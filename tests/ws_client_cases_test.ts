/**
 * The client side of the case suite: a raw server answers the handshake
 * and sends hand-built frames to the lunet/ws client; each case asserts
 * the close code the client ends with and what it sent.
 */
import assert from "node:assert/strict";
import { ProtocolError } from "../src/errors.ts";
import { connect, type ConnectOptions } from "../src/ws/mod.ts";
import type { WsConn } from "../src/ws/mod.ts";
import { noLeaks } from "./leak.ts";
import {
  closeBody,
  closeCode,
  enc,
  frame,
  parseFrames,
  type RawPeer,
  rawServer,
  switching,
} from "./fixtures/ws/raw.ts";

const TEXT = 1, BIN = 2, CLOSE = 8, PING = 9, PONG = 10, CONT = 0;

async function pair(
  opts: ConnectOptions = {},
  extra = "",
): Promise<{ ws: WsConn; peer: RawPeer; stop: () => void }> {
  const srv = await rawServer((accept) => switching(accept, extra));
  const ws = await connect(`ws://127.0.0.1:${srv.port}/`, opts);
  const peer = await srv.peer;
  return {
    ws,
    peer,
    stop: () => {
      peer.close();
      srv.listener.close();
    },
  };
}

/** The client fails with `code`: its close frame (masked) and its close info. */
async function clientFails(ws: WsConn, peer: RawPeer, code: number): Promise<void> {
  const f = await peer.next();
  assert.ok(f);
  assert.equal(f.op, CLOSE);
  assert.equal(f.masked, true);
  assert.equal(closeCode(f), code);
  peer.close();
  const info = await ws.closed;
  assert.equal(info.code, code);
  assert.equal(info.wasClean, false);
}

const failures: Array<[string, (p: RawPeer) => Promise<void>, number, ConnectOptions?]> = [
  [
    "a masked frame from the server",
    (p) => p.send(frame({ op: TEXT, payload: "x", mask: true })),
    1002,
  ],
  ["reserved bits", (p) => p.send(frame({ op: TEXT, payload: "x", mask: false, rsv: 2 })), 1002],
  [
    "RSV1 without compression",
    (p) => p.send(frame({ op: TEXT, payload: "x", mask: false, rsv: 4 })),
    1002,
  ],
  ["a reserved opcode", (p) => p.send(frame({ op: 3, mask: false })), 1002],
  [
    "a ping of 126 bytes",
    (p) => p.send(frame({ op: PING, payload: new Uint8Array(126), mask: false })),
    1002,
  ],
  ["a fragmented ping", (p) => p.send(frame({ op: PING, fin: false, mask: false })), 1002],
  [
    "a continuation with nothing to continue",
    (p) => p.send(frame({ op: CONT, mask: false })),
    1002,
  ],
  [
    "invalid UTF-8",
    (p) =>
      p.send(
        frame({ op: TEXT, payload: new Uint8Array([0xce, 0xba, 0xed, 0xa0, 0x80]), mask: false }),
      ),
    1007,
  ],
  [
    "invalid UTF-8 in the first fragment",
    (p) => p.send(frame({ op: TEXT, payload: new Uint8Array([0xff]), mask: false, fin: false })),
    1007,
  ],
  [
    "a message over maxMessageBytes",
    (p) => p.send(frame({ op: BIN, payload: new Uint8Array(1001), mask: false })),
    1009,
    {
      maxMessageBytes: 1000,
    },
  ],
  [
    "an invalid close code",
    (p) => p.send(frame({ op: CLOSE, payload: closeBody(1005), mask: false })),
    1002,
  ],
  [
    "a 1-byte close payload",
    (p) => p.send(frame({ op: CLOSE, payload: new Uint8Array([1]), mask: false })),
    1002,
  ],
];

Deno.test(
  "ws client cases: bad server input fails the connection with the right code",
  noLeaks(async (t) => {
    for (const [name, send, code, opts] of failures) {
      await t.step(`${name} → ${code}`, async () => {
        const { ws, peer, stop } = await pair(opts);
        try {
          await send(peer);
          assert.equal(await ws.recv(), null);
          await clientFails(ws, peer, code);
        } finally {
          stop();
        }
      });
    }
  }),
);

Deno.test(
  "ws client cases: frames, pings and the closing handshake",
  noLeaks(async (t) => {
    await t.step("client frames are masked with a fresh key each", async () => {
      const { ws, peer, stop } = await pair();
      try {
        await ws.send("same");
        await ws.send("same");
        const raw: Uint8Array[] = [];
        while (raw.reduce((n, c) => n + c.length, 0) < 20) raw.push((await peer.conn.read())!);
        const bytes = new Uint8Array(raw.flatMap((c) => [...c]));
        const { frames } = parseFrames(bytes);
        assert.equal(frames.length, 2);
        assert.ok(frames.every((f) => f.masked && new TextDecoder().decode(f.payload) === "same"));
        assert.notDeepEqual(bytes.subarray(2, 6), bytes.subarray(12, 16), "two frames, two keys");
        await ws.close(1000, "", { timeout: 0 }).catch(() => {});
      } finally {
        stop();
        await ws.closed;
      }
    });
    await t.step(
      "a ping is answered with a masked pong; fragments with a ping between",
      async () => {
        const { ws, peer, stop } = await pair();
        try {
          await peer.send(
            frame({ op: TEXT, payload: "frag", fin: false, mask: false }),
            frame({ op: PING, payload: "hi", mask: false }),
            frame({ op: CONT, payload: "ment", mask: false }),
            frame({ op: BIN, payload: new Uint8Array([1, 2]), mask: false }),
          );
          const pong = await peer.next();
          assert.ok(pong && pong.op === PONG && pong.masked);
          assert.equal(new TextDecoder().decode(pong.payload), "hi");
          assert.equal(await ws.recv(), "fragment");
          assert.deepEqual(await ws.recv(), new Uint8Array([1, 2]));
        } finally {
          stop();
          await ws.closed;
        }
      },
    );
    await t.step("the server's close is echoed; closed tells code, reason, clean", async () => {
      const { ws, peer, stop } = await pair();
      try {
        await peer.send(frame({ op: CLOSE, payload: closeBody(4001, "bye"), mask: false }));
        assert.equal(await ws.recv(), null);
        const echo = await peer.next();
        assert.equal(closeCode(echo), 4001);
        assert.ok(echo!.masked);
        peer.close(); // the server ends TCP first
        assert.deepEqual(await ws.closed, { code: 4001, reason: "bye", wasClean: true });
        await assert.rejects(ws.send("late"), /closed/);
      } finally {
        stop();
      }
    });
    await t.step("a close the server never answers ends after closeTimeout", async () => {
      const { ws, peer, stop } = await pair({ closeTimeout: 100 });
      try {
        const started = Date.now();
        const info = await ws.close(1000, "done");
        assert.ok(Date.now() - started >= 90);
        assert.deepEqual(info, { code: 1006, reason: "", wasClean: false });
        const f = await peer.next();
        assert.equal(closeCode(f), 1000);
        assert.equal(new TextDecoder().decode(f!.payload.subarray(2)), "done");
      } finally {
        stop();
      }
    });
    await t.step("pingInterval: a server that never pongs is dropped", async () => {
      const { ws, peer, stop } = await pair({ pingInterval: 50 });
      try {
        const ping = await peer.next();
        assert.equal(ping?.op, PING);
        const info = await ws.closed;
        assert.equal(info.code, 1006);
        assert.equal(info.reason, "no pong");
      } finally {
        stop();
      }
    });
  }),
);

const handshakes: Array<[string, string | ((accept: string) => string), RegExp, ConnectOptions?]> =
  [
    [
      "a 400 answer",
      "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
      /answered 400 Bad Request/,
    ],
    ["a wrong accept key", () => switching("AAAAAAAAAAAAAAAAAAAAAAAAAAA="), /Sec-WebSocket-Accept/],
    [
      "no Upgrade field",
      (a) =>
        `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${a}\r\n\r\n`,
      /Upgrade: websocket/,
    ],
    [
      "a subprotocol not offered",
      (a) => switching(a, "Sec-WebSocket-Protocol: other\r\n"),
      /subprotocol/,
      {
        protocols: ["chat"],
      },
    ],
    [
      "an extension not offered",
      (a) => switching(a, "Sec-WebSocket-Extensions: permessage-deflate\r\n"),
      /extension/,
    ],
    [
      "an unknown deflate parameter",
      (a) => switching(a, "Sec-WebSocket-Extensions: permessage-deflate; x=1\r\n"),
      /unknown permessage-deflate parameter/,
      { compress: true },
    ],
  ];

Deno.test(
  "ws client cases: handshakes that fail with ProtocolError",
  noLeaks(async (t) => {
    for (const [name, answer, message, opts] of handshakes) {
      await t.step(name, async () => {
        const srv = await rawServer((a) => typeof answer === "string" ? answer : answer(a));
        try {
          const err = await connect(`ws://127.0.0.1:${srv.port}/`, { timeout: 5000, ...opts }).then(
            () => undefined,
            (e) => e,
          );
          assert.ok(err instanceof ProtocolError, String(err));
          assert.match(err.message, message);
        } finally {
          (await srv.peer).close();
          srv.listener.close();
        }
      });
    }
    await t.step("the handshake timeout", async () => {
      const srv = await rawServer(() => "");
      try {
        await assert.rejects(connect(`ws://127.0.0.1:${srv.port}/`, { timeout: 100 }), /timed out/);
      } finally {
        (await srv.peer).close();
        srv.listener.close();
      }
    });
    await t.step("bytes right after the 101 head are the first frame", async () => {
      const srv = await rawServer((a) =>
        new Uint8Array([
          ...enc.encode(switching(a)),
          ...frame({ op: TEXT, payload: "early", mask: false }),
        ])
      );
      try {
        const ws = await connect(`ws://127.0.0.1:${srv.port}/`);
        assert.equal(await ws.recv(), "early");
        const peer = await srv.peer;
        peer.close();
        await ws.closed;
      } finally {
        (await srv.peer).close();
        srv.listener.close();
      }
    });
    await t.step("bad arguments", async () => {
      await assert.rejects(connect("http2://x/"), TypeError);
      await assert.rejects(connect("ws://127.0.0.1:1/#frag"), TypeError);
      await assert.rejects(connect("ws://127.0.0.1:1/", { protocols: ["a b"] }), TypeError);
    });
  }),
);

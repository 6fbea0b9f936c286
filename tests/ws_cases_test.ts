/**
 * A case suite modelled on the groups of the Autobahn|Testsuite (1
 * framing, 2 pings/pongs, 3 reserved bits, 4 opcodes, 5 fragmentation, 6
 * UTF-8, 7 close handling, 9 limits, 12–13 compression), written with raw
 * sockets that send hand-built frames to a lunet/ws echo server; each case
 * asserts the exact close code. The client-side cases are in
 * ws_client_cases_test.ts.
 */
import assert from "node:assert/strict";
import { noLeaks } from "./leak.ts";
import {
  closeBody,
  closeCode,
  deflateMessage,
  echoServer,
  enc,
  type Frame,
  frame,
  inflateMessage,
  rawClient,
  type RawPeer,
} from "./fixtures/ws/raw.ts";

const TEXT = 1, BIN = 2, CLOSE = 8, PING = 9, PONG = 10, CONT = 0;

type Case = [name: string, run: (p: RawPeer) => Promise<void>];

/** Reads frames up to the server's close; asserts its code and the end of stream. */
async function closes(p: RawPeer, code: number): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (;;) {
    const f = await p.next();
    assert.ok(f, `expected a close ${code}, the stream ended after ${frames.length} frames`);
    if (f.op === CLOSE) {
      assert.equal(
        closeCode(f),
        code,
        `close code (reason: ${new TextDecoder().decode(f.payload.slice(2))})`,
      );
      break;
    }
    frames.push(f);
  }
  assert.ok(await p.ended(), "the server ends the stream after its close");
  return frames;
}

/**
 * A valid message then a bad frame: the close is 1002 and no pong was
 * sent; the echo of the first message may or may not make it before the
 * close (Autobahn's "non-strict" outcome), since the handler races it.
 */
async function firstEchoedOrNot(p: RawPeer): Promise<void> {
  const before = await closes(p, 1002);
  assert.ok(
    before.length <= 1 && before.every((f) => f.op === TEXT),
    `frames: ${before.map((f) => f.op)}`,
  );
}

/** Closes normally and expects the echo. */
async function bye(p: RawPeer, code = 1000): Promise<Frame[]> {
  await p.send(frame({ op: CLOSE, payload: closeBody(code) }));
  return closes(p, code);
}

async function echoes(p: RawPeer, op: number, payload: Uint8Array): Promise<void> {
  const f = await p.next();
  assert.ok(f);
  assert.equal(f.op, op);
  assert.equal(f.masked, false);
  assert.deepEqual(f.payload, payload);
}

function bytes(n: number, fill = 0x2a): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

const hex = (s: string) =>
  new Uint8Array(s.split(/\s+/).filter(Boolean).map((x) => parseInt(x, 16)));

async function run(
  t: Deno.TestContext,
  cases: Case[],
  opts: Parameters<typeof echoServer>[0] = {},
  extra = "",
): Promise<void> {
  const server = await echoServer(opts);
  try {
    for (const [name, body] of cases) {
      await t.step(name, async () => {
        const { peer, head } = await rawClient(server.addr.port!, extra);
        try {
          assert.match(head, /^HTTP\/1.1 101/);
          await body(peer);
        } finally {
          peer.close();
        }
      });
    }
  } finally {
    await server.shutdown();
  }
}

const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];

Deno.test(
  "ws cases 1: text and binary frames of every length encoding are echoed",
  noLeaks(async (t) => {
    const cases: Case[] = [];
    for (const [op, label] of [[TEXT, "text"], [BIN, "binary"]] as const) {
      for (const n of LENGTHS) {
        cases.push([`1.${op}: ${label} of ${n} bytes`, async (p) => {
          const payload = bytes(n);
          await p.send(frame({ op, payload }));
          await echoes(p, op, payload);
          await bye(p);
        }]);
      }
    }
    cases.push(["1.3: 64 KiB text sent in 997-byte writes", async (p) => {
      const payload = bytes(65536, 0x41);
      await p.sendChunked(frame({ op: TEXT, payload }), 997);
      await echoes(p, TEXT, payload);
      await bye(p);
    }]);
    cases.push(["1.4: non-minimal 64-bit length is accepted", async (p) => {
      const f = frame({ op: TEXT, payload: "abc", len64: 3n });
      await p.send(f);
      await echoes(p, TEXT, enc.encode("abc"));
      await bye(p);
    }]);
    cases.push(["1.5: unmasked client frame fails with 1002", async (p) => {
      await p.send(frame({ op: TEXT, payload: "x", mask: false }));
      await closes(p, 1002);
    }]);
    await run(t, cases);
  }),
);

Deno.test(
  "ws cases 2: pings and pongs",
  noLeaks(async (t) => {
    await run(t, [
      ["2.1: ping without payload gets a pong", async (p) => {
        await p.send(frame({ op: PING }));
        await echoes(p, PONG, new Uint8Array(0));
        await bye(p);
      }],
      ["2.2/2.3: ping with text and binary payload", async (p) => {
        await p.send(frame({ op: PING, payload: "Hello, world!" }));
        await echoes(p, PONG, enc.encode("Hello, world!"));
        await p.send(frame({ op: PING, payload: hex("00 ff fe fd fc fb 00 ff") }));
        await echoes(p, PONG, hex("00 ff fe fd fc fb 00 ff"));
        await bye(p);
      }],
      ["2.4: ping of 125 bytes", async (p) => {
        await p.send(frame({ op: PING, payload: bytes(125, 0xfe) }));
        await echoes(p, PONG, bytes(125, 0xfe));
        await bye(p);
      }],
      ["2.5: ping of 126 bytes fails with 1002", async (p) => {
        await p.send(frame({ op: PING, payload: bytes(126) }));
        await closes(p, 1002);
      }],
      ["2.6: ping of 125 bytes sent byte by byte", async (p) => {
        await p.sendChunked(frame({ op: PING, payload: bytes(125, 7) }), 1);
        await echoes(p, PONG, bytes(125, 7));
        await bye(p);
      }],
      ["2.7/2.8: unsolicited pongs are ignored", async (p) => {
        await p.send(frame({ op: PONG }), frame({ op: PONG, payload: "unsolicited" }));
        assert.deepEqual(await bye(p), []);
      }],
      ["2.9: pong then ping: one pong back", async (p) => {
        await p.send(frame({ op: PONG, payload: "a" }), frame({ op: PING, payload: "b" }));
        await echoes(p, PONG, enc.encode("b"));
        await bye(p);
      }],
      ["2.10/2.11: ten pings, together and in chunks", async (p) => {
        const pings = Array.from({ length: 10 }, (_, i) => frame({ op: PING, payload: `p${i}` }));
        await p.send(...pings);
        for (let i = 0; i < 10; i++) await echoes(p, PONG, enc.encode(`p${i}`));
        for (const ping of pings) await p.sendChunked(ping, 1);
        for (let i = 0; i < 10; i++) await echoes(p, PONG, enc.encode(`p${i}`));
        await bye(p);
      }],
    ], { compress: false });
  }),
);

Deno.test(
  "ws cases 3: reserved bits fail with 1002",
  noLeaks(async (t) => {
    await run(t, [
      ["3.1: RSV2 on a text frame", async (p) => {
        await p.send(frame({ op: TEXT, payload: "x", rsv: 2 }));
        await closes(p, 1002);
      }],
      ["3.2: echo, then RSV1 text, then a ping that gets no pong", async (p) => {
        await p.send(
          frame({ op: TEXT, payload: "ok" }),
          frame({ op: TEXT, payload: "bad", rsv: 4 }),
          frame({ op: PING }),
        );
        await firstEchoedOrNot(p);
      }],
      ["3.3: RSV3 on binary", async (p) => {
        await p.send(frame({ op: BIN, payload: bytes(3), rsv: 3 }));
        await closes(p, 1002);
      }],
      ["3.4: RSV1 without compression negotiated", async (p) => {
        await p.send(frame({ op: BIN, payload: bytes(3), rsv: 4 }));
        await closes(p, 1002);
      }],
      ["3.5: RSV on a ping", async (p) => {
        await p.send(frame({ op: PING, rsv: 6 }));
        await closes(p, 1002);
      }],
      ["3.6: RSV on a close", async (p) => {
        await p.send(frame({ op: CLOSE, payload: closeBody(1000), rsv: 7 }));
        await closes(p, 1002);
      }],
    ]);
  }),
);

Deno.test(
  "ws cases 4: reserved opcodes fail with 1002",
  noLeaks(async (t) => {
    const cases: Case[] = [];
    for (const op of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
      cases.push([`4.${op < 8 ? 1 : 2}: opcode ${op}`, async (p) => {
        await p.send(
          frame({ op: TEXT, payload: "first" }),
          frame({ op, payload: "x" }),
          frame({ op: PING }),
        );
        await firstEchoedOrNot(p);
      }]);
    }
    await run(t, cases);
  }),
);

Deno.test(
  "ws cases 5: fragmentation",
  noLeaks(async (t) => {
    await run(t, [
      ["5.1: fragmented ping fails with 1002", async (p) => {
        await p.send(
          frame({ op: PING, payload: "a", fin: false }),
          frame({ op: CONT, payload: "b" }),
        );
        await closes(p, 1002);
      }],
      ["5.2: fragmented pong fails with 1002", async (p) => {
        await p.send(
          frame({ op: PONG, payload: "a", fin: false }),
          frame({ op: CONT, payload: "b" }),
        );
        await closes(p, 1002);
      }],
      ["5.3/5.4: text in two fragments, together and byte by byte", async (p) => {
        const f = [
          frame({ op: TEXT, payload: "frag", fin: false }),
          frame({ op: CONT, payload: "ment" }),
        ];
        await p.send(...f);
        await echoes(p, TEXT, enc.encode("fragment"));
        for (const x of f) await p.sendChunked(x, 1);
        await echoes(p, TEXT, enc.encode("fragment"));
        await bye(p);
      }],
      ["5.6-5.8: a ping between fragments is answered first", async (p) => {
        await p.send(
          frame({ op: TEXT, payload: "frag", fin: false }),
          frame({ op: PING, payload: "ping" }),
          frame({ op: CONT, payload: "ment" }),
        );
        await echoes(p, PONG, enc.encode("ping"));
        await echoes(p, TEXT, enc.encode("fragment"));
        await bye(p);
      }],
      ["5.9/5.10: continuation with FIN and nothing to continue", async (p) => {
        await p.send(frame({ op: CONT, payload: "x" }), frame({ op: TEXT, payload: "y" }));
        await closes(p, 1002);
      }],
      ["5.13: continuation without FIN and nothing to continue", async (p) => {
        await p.send(frame({ op: CONT, payload: "x", fin: false }));
        await closes(p, 1002);
      }],
      ["5.18: a new text frame inside a fragmented message", async (p) => {
        await p.send(
          frame({ op: TEXT, payload: "a", fin: false }),
          frame({ op: TEXT, payload: "b" }),
        );
        await closes(p, 1002);
      }],
      ["5.19/5.20: many fragments with pings between, sent slowly", async (p) => {
        const parts = ["f1", "f2", "f3", "f4", "f5"];
        for (let i = 0; i < parts.length; i++) {
          const last = i === parts.length - 1;
          await p.send(frame({ op: i === 0 ? TEXT : CONT, payload: parts[i], fin: last }));
          if (last) break;
          await p.send(frame({ op: PING, payload: `p${i}` }));
          await echoes(p, PONG, enc.encode(`p${i}`));
          await new Promise((r) => setTimeout(r, 5));
        }
        await echoes(p, TEXT, enc.encode(parts.join("")));
        await bye(p);
      }],
      ["5.x: empty fragments make an empty message", async (p) => {
        await p.send(
          frame({ op: BIN, fin: false }),
          frame({ op: CONT, fin: false }),
          frame({ op: CONT }),
        );
        await echoes(p, BIN, new Uint8Array(0));
        await bye(p);
      }],
    ]);
  }),
);

const VALID_UTF8 = [
  "7f",
  "c2 80",
  "df bf",
  "e0 a0 80",
  "ed 9f bf",
  "ee 80 80",
  "ef bf bd",
  "ef bf bf",
  "f0 90 80 80",
  "f4 8f bf bf",
  "ce ba e1 bd b9 cf 83 ce bc ce b5", // κόσμε
];
const INVALID_UTF8 = [
  "80",
  "bf",
  "c0 80",
  "c1 bf",
  "e0 80 80",
  "e0 9f bf",
  "ed a0 80",
  "ed bf bf",
  "f0 80 80 80",
  "f4 90 80 80",
  "f5 80 80 80",
  "fe",
  "ff",
  "ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64",
  "c2",
  "e1 80",
  "f0 90 80",
];

Deno.test(
  "ws cases 6: UTF-8 is checked as it arrives",
  noLeaks(async (t) => {
    const cases: Case[] = [];
    cases.push(["6.1: empty text and empty fragments", async (p) => {
      await p.send(frame({ op: TEXT }));
      await echoes(p, TEXT, new Uint8Array(0));
      await p.send(
        frame({ op: TEXT, fin: false }),
        frame({ op: CONT, fin: false }),
        frame({ op: CONT }),
      );
      await echoes(p, TEXT, new Uint8Array(0));
      await bye(p);
    }]);
    cases.push(["6.2: valid text split at every byte between fragments", async (p) => {
      const all = hex(VALID_UTF8.join(" "));
      for (let cut = 0; cut <= all.length; cut++) {
        await p.send(
          frame({ op: TEXT, payload: all.slice(0, cut), fin: false }),
          frame({ op: CONT, payload: all.slice(cut) }),
        );
        await echoes(p, TEXT, all);
      }
      await bye(p);
    }]);
    VALID_UTF8.forEach((seq, i) => {
      cases.push([`6.5.${i}: valid ${seq}`, async (p) => {
        await p.send(frame({ op: TEXT, payload: hex(seq) }));
        await echoes(p, TEXT, hex(seq));
        await bye(p);
      }]);
    });
    INVALID_UTF8.forEach((seq, i) => {
      cases.push([`6.3.${i}: invalid ${seq} fails with 1007`, async (p) => {
        await p.send(frame({ op: TEXT, payload: hex(seq) }));
        await closes(p, 1007);
      }]);
      cases.push([`6.3.${i}f: invalid ${seq}, fragmented byte by byte`, async (p) => {
        const b = hex(seq);
        const frames = [...b].map((x, j) =>
          frame({
            op: j === 0 ? TEXT : CONT,
            payload: new Uint8Array([x]),
            fin: j === b.length - 1,
          })
        );
        await p.send(...frames);
        await closes(p, 1007);
      }]);
    });
    cases.push(["6.4.1/6.4.2: fail fast on a bad fragment before the message ends", async (p) => {
      await p.send(frame({ op: TEXT, payload: "κόσμε", fin: false }));
      await p.send(frame({ op: CONT, payload: hex("f4 90 80 80"), fin: false }));
      // No more fragments are sent: the close must come now.
      await closes(p, 1007);
    }]);
    cases.push(["6.4.3/6.4.4: fail fast in the middle of one frame", async (p) => {
      const payload = new Uint8Array([
        ...enc.encode("κόσμε"),
        0xf4,
        0x90,
        0x80,
        0x80,
        ...enc.encode("edited"),
      ]);
      const f = frame({ op: TEXT, payload });
      // Send the header and the payload up to the bad bytes, and stop.
      await p.send(f.subarray(0, f.length - 6));
      await closes(p, 1007);
    }]);
    await run(t, cases);
  }),
);

Deno.test(
  "ws cases 7: close handling",
  noLeaks(async (t) => {
    const cases: Case[] = [
      ["7.1.1: echo, then a normal close", async (p) => {
        await p.send(frame({ op: TEXT, payload: "Hello" }));
        await echoes(p, TEXT, enc.encode("Hello"));
        await bye(p);
      }],
      ["7.1.2-7.1.4: nothing is answered after the close", async (p) => {
        await p.send(
          frame({ op: CLOSE, payload: closeBody(1000) }),
          frame({ op: CLOSE, payload: closeBody(1000) }),
          frame({ op: PING }),
          frame({ op: TEXT, payload: "late" }),
        );
        assert.deepEqual(await closes(p, 1000), []);
      }],
      ["7.1.5: close inside a fragmented message", async (p) => {
        await p.send(
          frame({ op: TEXT, payload: "frag", fin: false }),
          frame({ op: CLOSE, payload: closeBody(1000) }),
          frame({ op: CONT, payload: "ment" }),
        );
        assert.deepEqual(await closes(p, 1000), []);
      }],
      ["7.3.1: close without payload is echoed without a code", async (p) => {
        await p.send(frame({ op: CLOSE }));
        await closes(p, 1005);
      }],
      ["7.3.2: close payload of 1 byte fails with 1002", async (p) => {
        await p.send(frame({ op: CLOSE, payload: new Uint8Array([0x03]) }));
        await closes(p, 1002);
      }],
      ["7.3.4/7.3.5: close with a reason, and with 123 bytes of reason", async (p) => {
        await p.send(frame({ op: CLOSE, payload: closeBody(1000, "x".repeat(123)) }));
        await closes(p, 1000);
      }],
      ["7.3.6: close with 124 bytes of reason fails with 1002", async (p) => {
        await p.send(frame({ op: CLOSE, payload: closeBody(1000, "x".repeat(124)) }));
        await closes(p, 1002);
      }],
      ["7.5.1: close reason that is not UTF-8 fails with 1007", async (p) => {
        await p.send(
          frame({ op: CLOSE, payload: closeBody(1000, hex("ce ba e1 bd b9 cf 83 ed a0 80")) }),
        );
        await closes(p, 1007);
      }],
    ];
    for (
      const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
    ) {
      cases.push([`7.7: valid code ${code} is echoed`, async (p) => {
        await bye(p, code);
      }]);
    }
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
      cases.push([`7.9: invalid code ${code} fails with 1002`, async (p) => {
        await p.send(frame({ op: CLOSE, payload: closeBody(code) }));
        await closes(p, 1002);
      }]);
    }
    await run(t, cases);
  }),
);

const MAX = 1 << 20;

Deno.test(
  "ws cases 9: limits",
  noLeaks(async (t) => {
    const cases: Case[] = [];
    for (const n of [65536, 262144, MAX]) {
      cases.push([`9.1: binary of ${n} bytes in one frame`, async (p) => {
        const payload = bytes(n, 0x55);
        await p.send(frame({ op: BIN, payload }));
        await echoes(p, BIN, payload);
        await bye(p);
      }]);
      cases.push([`9.2: text of ${n} bytes in 4 KiB fragments`, async (p) => {
        const payload = bytes(n, 0x61);
        const frames: Uint8Array[] = [];
        for (let i = 0; i < n; i += 4096) {
          frames.push(
            frame({
              op: i === 0 ? TEXT : CONT,
              payload: payload.subarray(i, i + 4096),
              fin: i + 4096 >= n,
            }),
          );
        }
        await p.send(...frames);
        await echoes(p, TEXT, payload);
        await bye(p);
      }]);
    }
    cases.push(["9.3: a frame over maxMessageBytes fails with 1009 from its header", async (p) => {
      const f = frame({ op: BIN, payload: bytes(MAX + 1) });
      await p.send(f.subarray(0, 20));
      await closes(p, 1009);
    }]);
    cases.push(["9.4: fragments adding up past maxMessageBytes fail with 1009", async (p) => {
      await p.send(frame({ op: BIN, payload: bytes(MAX / 2), fin: false }));
      await p.send(frame({ op: CONT, payload: bytes(MAX / 2), fin: false }));
      await p.send(frame({ op: CONT, payload: bytes(1) }).subarray(0, 6));
      await closes(p, 1009);
    }]);
    cases.push(["9.5: a 64-bit length with the top bit set fails with 1002", async (p) => {
      await p.send(frame({ op: BIN, len64: 1n << 63n }));
      await closes(p, 1002);
    }]);
    cases.push(["9.6: a length past 2^53 fails with 1009", async (p) => {
      await p.send(frame({ op: BIN, len64: 1n << 60n }));
      await closes(p, 1009);
    }]);
    await run(t, cases, { maxMessageBytes: MAX });
  }),
);

// The server always answers client_no_context_takeover: each client
// message is decompressed on its own.
const OFFERS: Array<[string, string, string]> = [
  ["default", "permessage-deflate", "permessage-deflate; client_no_context_takeover"],
  [
    "client_no_context_takeover",
    "permessage-deflate; client_no_context_takeover",
    "permessage-deflate; client_no_context_takeover",
  ],
  [
    "server_no_context_takeover",
    "permessage-deflate; server_no_context_takeover",
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  ],
  [
    "server_max_window_bits=9",
    "permessage-deflate; server_max_window_bits=9",
    "permessage-deflate; client_no_context_takeover; server_max_window_bits=9",
  ],
  [
    "server_max_window_bits=15",
    "permessage-deflate; server_max_window_bits=15",
    "permessage-deflate; client_no_context_takeover; server_max_window_bits=15",
  ],
  [
    "client_max_window_bits=9",
    "permessage-deflate; client_max_window_bits=9",
    "permessage-deflate; client_no_context_takeover",
  ],
  [
    "client_max_window_bits",
    "permessage-deflate; client_max_window_bits",
    "permessage-deflate; client_no_context_takeover",
  ],
];

function extensionOf(head: string): string | undefined {
  return /sec-websocket-extensions: *([^\r\n]*)/i.exec(head)?.[1];
}

Deno.test(
  "ws cases 12/13: permessage-deflate",
  noLeaks(async (t) => {
    const server = await echoServer({ compress: { threshold: 0 }, maxMessageBytes: MAX });
    const port = server.addr.port!;
    try {
      for (const [name, offer, expect] of OFFERS) {
        await t.step(`13: offer ${name}`, async () => {
          const { peer, head } = await rawClient(port, `Sec-WebSocket-Extensions: ${offer}\r\n`);
          try {
            assert.equal(extensionOf(head), expect);
            // Messages that repeat each other: each one inflates alone.
            for (let i = 0; i < 20; i++) {
              const text = enc.encode(
                `message ${i % 3}: ${"lorem ipsum ".repeat(1 + (i % 7) * 40)}`,
              );
              const payload = deflateMessage(text);
              await peer.send(frame({ op: TEXT, payload, rsv: 4 }));
              const f = await peer.next();
              assert.ok(f && f.op === TEXT);
              const plain = f.rsv === 4 ? inflateMessage(f.payload) : f.payload;
              assert.deepEqual(plain, text);
            }
            await bye(peer);
          } finally {
            peer.close();
          }
        });
      }
      const cases: Array<[string, string, (p: RawPeer) => Promise<void>]> = [
        ["12.1: compressed binary of every size up to 256 KiB", "", async (p) => {
          for (const n of [0, 1, 16, 125, 126, 4096, 65536, 262144]) {
            const data = bytes(n, n & 0xff);
            await p.send(frame({ op: BIN, payload: deflateMessage(data), rsv: 4 }));
            const f = await p.next();
            assert.ok(f);
            assert.deepEqual(f.rsv === 4 ? inflateMessage(f.payload) : f.payload, data);
          }
          await bye(p);
        }],
        ["12.2: a compressed message in fragments, a ping between", "", async (p) => {
          const data = enc.encode("fragmented and compressed ".repeat(100));
          const c = deflateMessage(data);
          const mid = c.length >> 1;
          await p.send(
            frame({ op: TEXT, payload: c.subarray(0, mid), rsv: 4, fin: false }),
            frame({ op: PING, payload: "x" }),
            frame({ op: CONT, payload: c.subarray(mid) }),
          );
          await echoes(p, PONG, enc.encode("x"));
          const f = await p.next();
          assert.ok(f);
          assert.deepEqual(inflateMessage(f.payload), data);
          await bye(p);
        }],
        ["12.3: a decompression bomb stops at maxMessageBytes with 1009", "", async (p) => {
          const bomb = deflateMessage(new Uint8Array(64 << 20));
          assert.ok(bomb.length < MAX);
          await p.send(frame({ op: BIN, payload: bomb, rsv: 4 }));
          await closes(p, 1009);
        }],
        ["12.4: invalid DEFLATE data fails with 1007", "", async (p) => {
          await p.send(frame({ op: BIN, payload: hex("ff ff ff ff ff"), rsv: 4 }));
          await closes(p, 1007);
        }],
        ["12.5: compressed text that is not UTF-8 fails with 1007", "", async (p) => {
          await p.send(frame({ op: TEXT, payload: deflateMessage(hex("ce ba ed a0 80")), rsv: 4 }));
          await closes(p, 1007);
        }],
        ["12.6: RSV1 on a continuation fails with 1002", "", async (p) => {
          await p.send(
            frame({ op: TEXT, payload: "a", fin: false }),
            frame({ op: CONT, payload: "b", rsv: 4 }),
          );
          await closes(p, 1002);
        }],
        ["12.7: RSV1 on a ping fails with 1002", "", async (p) => {
          await p.send(frame({ op: PING, rsv: 4 }));
          await closes(p, 1002);
        }],
      ];
      for (const [name, _x, body] of cases) {
        await t.step(name, async () => {
          const { peer, head } = await rawClient(
            port,
            "Sec-WebSocket-Extensions: permessage-deflate\r\n",
          );
          try {
            assert.ok(extensionOf(head));
            await body(peer);
          } finally {
            peer.close();
          }
        });
      }
      await t.step(
        "13.x: server_max_window_bits=8 is agreed; the server then sends uncompressed",
        async () => {
          const { peer, head } = await rawClient(
            port,
            "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8\r\n",
          );
          try {
            assert.match(extensionOf(head)!, /server_max_window_bits=8/);
            const data = enc.encode("a".repeat(1000));
            await peer.send(frame({ op: TEXT, payload: deflateMessage(data), rsv: 4 }));
            const f = await peer.next();
            assert.ok(f);
            assert.equal(f.rsv, 0);
            assert.deepEqual(f.payload, data);
            await bye(peer);
          } finally {
            peer.close();
          }
        },
      );
      await t.step(
        "13.x: offers with unknown parameters are declined; the next one is taken",
        async () => {
          const { peer, head } = await rawClient(
            port,
            "Sec-WebSocket-Extensions: permessage-deflate; bogus=1, permessage-deflate; client_no_context_takeover\r\n",
          );
          try {
            assert.equal(extensionOf(head), "permessage-deflate; client_no_context_takeover");
            await bye(peer);
          } finally {
            peer.close();
          }
        },
      );
      await t.step("13.x: a malformed extension header gets 400", async () => {
        const { peer, head } = await rawClient(
          port,
          'Sec-WebSocket-Extensions: permessage-deflate; a="\r\n',
        );
        peer.close();
        assert.match(head, /^HTTP\/1.1 400/);
      });
    } finally {
      await server.shutdown();
    }
  }),
);

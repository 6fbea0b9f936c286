/**
 * HTTP/2 at the frame level, over a raw TCP socket (sections modelled on
 * h2spec: preface, frame sizes, each frame type's rules, stream states,
 * flow control, HPACK errors, SETTINGS values), each case asserting the
 * exact GOAWAY or RST_STREAM code; floods, rapid reset and the graceful
 * GOAWAY of a shutdown.
 */
import assert from "node:assert/strict";
import { sleep } from "../mod.ts";
import { serve, type Server } from "../src/http/mod.ts";
import { type Conn, connect } from "../src/socket.ts";
import { HpackDecoder } from "../src/http/_hpack_decoder.ts";
import { HpackEncoder } from "../src/http/_hpack_encoder.ts";
import * as f from "../src/http/_h2_frames.ts";
import { noLeaks } from "./leak.ts";

interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Uint8Array;
}

/** A raw HTTP/2 client: writes frames as given, reads them back. */
class RawClient {
  conn: Conn;
  #buf = new Uint8Array(0);
  enc = new HpackEncoder();
  dec = new HpackDecoder(4096);

  constructor(conn: Conn) {
    this.conn = conn;
  }

  static async open(server: Server, settings = true): Promise<RawClient> {
    const c = new RawClient(await connect("127.0.0.1", server.addr.port!));
    await c.conn.write(f.PREFACE);
    if (settings) await c.frame(f.SETTINGS, 0, 0);
    return c;
  }

  frameBytes(
    type: number,
    flags: number,
    stream: number,
    payload: ArrayLike<number> = [],
  ): Uint8Array {
    const out = new Uint8Array(9 + payload.length);
    f.frameHeader(out, 0, payload.length, type, flags, stream);
    out.set(payload, 9);
    return out;
  }

  frame(
    type: number,
    flags: number,
    stream: number,
    payload: ArrayLike<number> = [],
  ): Promise<void> {
    return this.conn.write(this.frameBytes(type, flags, stream, payload));
  }

  block(fields: [string, string][]): number[] {
    const out: number[] = [];
    this.enc.encode(fields, out);
    return out;
  }

  request(stream: number, path = "/", end = true, extra: [string, string][] = []): Promise<void> {
    const fields: [string, string][] = [
      [":method", end ? "GET" : "POST"],
      [":scheme", "http"],
      [":path", path],
      [":authority", "t"],
      ...extra,
    ];
    return this.frame(
      f.HEADERS,
      f.END_HEADERS | (end ? f.END_STREAM : 0),
      stream,
      this.block(fields),
    );
  }

  async next(timeout = 5000): Promise<Frame | null> {
    for (;;) {
      if (this.#buf.length >= 9) {
        const len = this.#buf[0] << 16 | this.#buf[1] << 8 | this.#buf[2];
        if (this.#buf.length >= 9 + len) {
          const fr = {
            type: this.#buf[3],
            flags: this.#buf[4],
            stream: f.read31(this.#buf, 5),
            payload: this.#buf.slice(9, 9 + len),
          };
          this.#buf = this.#buf.slice(9 + len);
          return fr;
        }
      }
      let chunk: Uint8Array | null;
      try {
        chunk = await this.conn.read({ timeout });
      } catch {
        return null;
      }
      if (chunk === null) return null;
      const b = new Uint8Array(this.#buf.length + chunk.length);
      b.set(this.#buf);
      b.set(chunk, this.#buf.length);
      this.#buf = b;
    }
  }

  /** Reads until a frame of `type` (on `stream`, when given) comes; null if the connection ends first. */
  async until(type: number, stream?: number): Promise<Frame | null> {
    for (;;) {
      const fr = await this.next();
      if (fr === null) return null;
      if (fr.type === f.SETTINGS && (fr.flags & f.ACK) === 0) {
        await this.frame(f.SETTINGS, f.ACK, 0);
      }
      if (fr.type === type && (stream === undefined || fr.stream === stream)) return fr;
    }
  }

  /** The error code of the next GOAWAY. */
  async goaway(): Promise<number> {
    const fr = await this.until(f.GOAWAY);
    assert.ok(fr, "no GOAWAY");
    return f.read32(fr.payload, 4);
  }

  /** The error code of the next RST_STREAM on `stream`. */
  async rst(stream: number): Promise<number> {
    const fr = await this.until(f.RST_STREAM, stream);
    assert.ok(fr, `no RST_STREAM on ${stream}`);
    return f.read32(fr.payload, 0);
  }

  /** The status and body of the response on `stream`. */
  async response(stream: number): Promise<{ status: string; body: string }> {
    let status = "", body = "";
    for (;;) {
      const fr = await this.next();
      assert.ok(fr, "connection ended before the response");
      if (fr.type === f.SETTINGS && (fr.flags & f.ACK) === 0) {
        await this.frame(f.SETTINGS, f.ACK, 0);
      }
      if (fr.stream !== stream) continue;
      if (fr.type === f.HEADERS) {
        const got = this.dec.decode(fr.payload, 0, fr.payload.length, 1 << 20).fields;
        status = got[1];
      } else if (fr.type === f.DATA) body += new TextDecoder().decode(fr.payload);
      else if (fr.type === f.RST_STREAM) throw new Error(`reset ${f.read32(fr.payload, 0)}`);
      if ((fr.flags & f.END_STREAM) !== 0) return { status, body };
    }
  }

  close(): void {
    this.conn.close();
  }
}

function u32(n: number): number[] {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

function setting(id: number, value: number): number[] {
  return [id >> 8, id & 0xff, ...u32(value)];
}

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

type Case = [string, (c: RawClient) => Promise<void>, "goaway" | number, number];

const H = f.END_HEADERS;
const CASES: Case[] = [
  // 3.5 the first SETTINGS
  [
    "a first frame that is not SETTINGS",
    (c) => c.frame(f.PING, 0, 0, new Uint8Array(8)),
    "goaway",
    f.PROTOCOL_ERROR,
  ],
  // 4.2 frame size
  [
    "a frame over SETTINGS_MAX_FRAME_SIZE",
    (c) => c.frame(f.DATA, 0, 1, new Uint8Array(16385)),
    "goaway",
    f.FRAME_SIZE_ERROR,
  ],
  // 6.1 DATA
  ["DATA on stream 0", (c) => c.frame(f.DATA, 0, 0, [1]), "goaway", f.PROTOCOL_ERROR],
  ["DATA on an idle stream", (c) => c.frame(f.DATA, 0, 5, [1]), "goaway", f.PROTOCOL_ERROR],
  [
    "DATA with padding as long as the frame",
    async (c) => {
      await c.request(1, "/read", false);
      await c.frame(f.DATA, f.PADDED, 1, [5, 0, 0]);
    },
    "goaway",
    f.PROTOCOL_ERROR,
  ],
  // 6.2 HEADERS, 6.10 CONTINUATION
  ["HEADERS on stream 0", (c) => c.frame(f.HEADERS, H, 0, []), "goaway", f.PROTOCOL_ERROR],
  ["HEADERS on an even stream", (c) => c.request(2), "goaway", f.PROTOCOL_ERROR],
  [
    "CONTINUATION without HEADERS",
    (c) => c.frame(f.CONTINUATION, H, 1, []),
    "goaway",
    f.PROTOCOL_ERROR,
  ],
  [
    "a header block interrupted by another frame",
    async (c) => {
      await c.frame(f.HEADERS, f.END_STREAM, 1, c.block([[":method", "GET"]]));
      await c.frame(f.PING, 0, 0, new Uint8Array(8));
    },
    "goaway",
    f.PROTOCOL_ERROR,
  ],
  [
    "a CONTINUATION flood",
    async (c) => {
      await c.frame(f.HEADERS, f.END_STREAM, 1, c.block([[":method", "GET"]]));
      for (let i = 0; i < 40; i++) await c.frame(f.CONTINUATION, 0, 1, c.block([["x-a", "b"]]));
    },
    "goaway",
    f.ENHANCE_YOUR_CALM,
  ],
  [
    "HEADERS on a closed stream",
    async (c) => {
      await c.request(1);
      await c.response(1);
      await c.request(1);
    },
    "goaway",
    f.STREAM_CLOSED,
  ],
  // 6.3 PRIORITY
  [
    "PRIORITY of the wrong size",
    (c) => c.frame(f.PRIORITY, 0, 1, [0, 0, 0, 3]),
    1,
    f.FRAME_SIZE_ERROR,
  ],
  ["PRIORITY on itself", (c) => c.frame(f.PRIORITY, 0, 3, [...u32(3), 16]), 3, f.PROTOCOL_ERROR],
  // 6.4 RST_STREAM
  [
    "RST_STREAM on stream 0",
    (c) => c.frame(f.RST_STREAM, 0, 0, u32(8)),
    "goaway",
    f.PROTOCOL_ERROR,
  ],
  [
    "RST_STREAM on an idle stream",
    (c) => c.frame(f.RST_STREAM, 0, 9, u32(8)),
    "goaway",
    f.PROTOCOL_ERROR,
  ],
  [
    "RST_STREAM of the wrong size",
    async (c) => {
      await c.request(1, "/slow");
      await c.frame(f.RST_STREAM, 0, 1, [0, 0, 8]);
    },
    "goaway",
    f.FRAME_SIZE_ERROR,
  ],
  // 6.5 SETTINGS
  ["SETTINGS on a stream", (c) => c.frame(f.SETTINGS, 0, 1, []), "goaway", f.PROTOCOL_ERROR],
  [
    "SETTINGS of a size not a multiple of 6",
    (c) => c.frame(f.SETTINGS, 0, 0, [0, 1, 0]),
    "goaway",
    f.FRAME_SIZE_ERROR,
  ],
  [
    "SETTINGS ACK with a payload",
    (c) => c.frame(f.SETTINGS, f.ACK, 0, setting(1, 1)),
    "goaway",
    f.FRAME_SIZE_ERROR,
  ],
  [
    "SETTINGS_ENABLE_PUSH of 2",
    (c) => c.frame(f.SETTINGS, 0, 0, setting(2, 2)),
    "goaway",
    f.PROTOCOL_ERROR,
  ],
  [
    "SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1",
    (c) => c.frame(f.SETTINGS, 0, 0, setting(4, 2 ** 31)),
    "goaway",
    f.FLOW_CONTROL_ERROR,
  ],
  [
    "SETTINGS_MAX_FRAME_SIZE under 16384",
    (c) => c.frame(f.SETTINGS, 0, 0, setting(5, 16383)),
    "goaway",
    f.PROTOCOL_ERROR,
  ],
  [
    "a SETTINGS flood",
    async (c) => {
      const one = c.frameBytes(f.SETTINGS, 0, 0, []);
      const many = new Uint8Array(one.length * 150);
      for (let i = 0; i < 150; i++) many.set(one, i * one.length);
      await c.conn.write(many);
    },
    "goaway",
    f.ENHANCE_YOUR_CALM,
  ],
  // 6.6 PUSH_PROMISE, 6.7 PING
  [
    "PUSH_PROMISE from a client",
    (c) => c.frame(f.PUSH_PROMISE, H, 1, u32(2)),
    "goaway",
    f.PROTOCOL_ERROR,
  ],
  [
    "PING of the wrong size",
    (c) => c.frame(f.PING, 0, 0, new Uint8Array(6)),
    "goaway",
    f.FRAME_SIZE_ERROR,
  ],
  ["PING on a stream", (c) => c.frame(f.PING, 0, 1, new Uint8Array(8)), "goaway", f.PROTOCOL_ERROR],
  [
    "a PING flood",
    async (c) => {
      const one = c.frameBytes(f.PING, 0, 0, new Uint8Array(8));
      const many = new Uint8Array(one.length * 150);
      for (let i = 0; i < 150; i++) many.set(one, i * one.length);
      await c.conn.write(many);
    },
    "goaway",
    f.ENHANCE_YOUR_CALM,
  ],
  // 6.8 GOAWAY, 6.9 WINDOW_UPDATE
  [
    "GOAWAY on a stream",
    (c) => c.frame(f.GOAWAY, 0, 1, [...u32(0), ...u32(0)]),
    "goaway",
    f.PROTOCOL_ERROR,
  ],
  [
    "WINDOW_UPDATE of 0 on the connection",
    (c) => c.frame(f.WINDOW_UPDATE, 0, 0, u32(0)),
    "goaway",
    f.PROTOCOL_ERROR,
  ],
  [
    "WINDOW_UPDATE of the wrong size",
    (c) => c.frame(f.WINDOW_UPDATE, 0, 0, [0, 1]),
    "goaway",
    f.FRAME_SIZE_ERROR,
  ],
  [
    "a connection window over 2^31-1",
    (c) => c.frame(f.WINDOW_UPDATE, 0, 0, u32(0x7fffffff)),
    "goaway",
    f.FLOW_CONTROL_ERROR,
  ],
  [
    "WINDOW_UPDATE of 0 on a stream",
    async (c) => {
      await c.request(1, "/slow");
      await c.frame(f.WINDOW_UPDATE, 0, 1, u32(0));
    },
    1,
    f.PROTOCOL_ERROR,
  ],
  [
    "a stream window over 2^31-1",
    async (c) => {
      await c.request(1, "/slow");
      await c.frame(f.WINDOW_UPDATE, 0, 1, u32(0x7fffffff));
    },
    1,
    f.FLOW_CONTROL_ERROR,
  ],
  [
    "DATA past the stream window",
    async (c) => {
      await c.request(1, "/slow", false);
      for (let i = 0; i < 17; i++) await c.frame(f.DATA, 0, 1, new Uint8Array(16384));
    },
    1,
    f.FLOW_CONTROL_ERROR,
  ],
  // 5.1 stream states
  [
    "DATA after END_STREAM",
    async (c) => {
      await c.request(1, "/slow");
      await c.frame(f.DATA, 0, 1, [1]);
    },
    1,
    f.STREAM_CLOSED,
  ],
  // 4.3 HPACK
  [
    "a header block HPACK cannot decode",
    (c) => c.frame(f.HEADERS, H | f.END_STREAM, 1, [0x80]),
    "goaway",
    f.COMPRESSION_ERROR,
  ],
  // 8.1–8.3 malformed requests
  [
    "an upper-case field name",
    (c) => c.request(1, "/", true, [["X-Up", "1"]]),
    1,
    f.PROTOCOL_ERROR,
  ],
  [
    "a connection-specific field",
    (c) => c.request(1, "/", true, [["connection", "close"]]),
    1,
    f.PROTOCOL_ERROR,
  ],
  ["te other than trailers", (c) => c.request(1, "/", true, [["te", "gzip"]]), 1, f.PROTOCOL_ERROR],
  [
    "no :path",
    (c) =>
      c.frame(f.HEADERS, H | f.END_STREAM, 1, c.block([[":method", "GET"], [":scheme", "http"]])),
    1,
    f.PROTOCOL_ERROR,
  ],
  [
    "a pseudo-header after a regular field",
    (c) =>
      c.frame(
        f.HEADERS,
        H | f.END_STREAM,
        1,
        c.block([[":method", "GET"], [":scheme", "http"], ["a", "b"], [":path", "/"]]),
      ),
    1,
    f.PROTOCOL_ERROR,
  ],
  ["an unknown pseudo-header", (c) => c.request(1, "/", true, [[":x", "1"]]), 1, f.PROTOCOL_ERROR],
  [
    "DATA shorter than content-length",
    async (c) => {
      await c.request(1, "/read", false, [["content-length", "10"]]);
      await c.frame(f.DATA, f.END_STREAM, 1, [1, 2]);
    },
    1,
    f.PROTOCOL_ERROR,
  ],
  [
    "trailers without END_STREAM",
    async (c) => {
      await c.request(1, "/read", false);
      await c.frame(f.HEADERS, H, 1, c.block([["x-t", "1"]]));
    },
    1,
    f.PROTOCOL_ERROR,
  ],
  // defences
  [
    "rapid reset (CVE-2023-44487)",
    async (c) => {
      for (let id = 1; id < 2 * 400; id += 2) {
        await c.conn.write(
          new Uint8Array([
            ...c.frameBytes(
              f.HEADERS,
              H | f.END_STREAM,
              id,
              c.block([[":method", "GET"], [":scheme", "http"], [":path", "/slow"], [
                ":authority",
                "t",
              ]]),
            ),
            ...c.frameBytes(f.RST_STREAM, 0, id, u32(f.CANCEL)),
          ]),
        );
      }
    },
    "goaway",
    f.ENHANCE_YOUR_CALM,
  ],
];

Deno.test(
  "HTTP/2 frame rules: each violation gets its GOAWAY or RST_STREAM code",
  noLeaks(async (t) => {
    await withServer(async (server) => {
      for (const [name, act, kind, code] of CASES) {
        await t.step(name, async () => {
          const c = await RawClient.open(
            server,
            !name.startsWith("a first frame"),
          );
          try {
            await act(c);
            const got = kind === "goaway" ? await c.goaway() : await c.rst(kind);
            assert.equal(got, code);
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
      const c = await RawClient.open(server);
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
    const c = await RawClient.open(server);
    try {
      await c.request(1);
      await sleep(50);
      const stopping = server.shutdown({ timeout: 3000 });
      const goaway = await c.until(f.GOAWAY);
      assert.ok(goaway);
      assert.equal(f.read31(goaway.payload, 0), 1);
      assert.equal(f.read32(goaway.payload, 4), f.NO_ERROR);
      assert.deepEqual(await c.response(1), { status: "200", body: "done" });
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
    const c = await RawClient.open(server);
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

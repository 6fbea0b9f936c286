/**
 * Segmentation: every request the HTTP tests use, sent whole and then
 * split over TCP writes with pauses between them — at every byte boundary
 * for small requests, at random boundaries into 3–6 pieces for large ones
 * — must get the same responses (status, body, count) either way. Raw
 * `Deno.connect` clients with Nagle off, so every split is a real segment.
 */
import { deepEqual as assertEquals } from "node:assert/strict";
import { type HttpRequest, json } from "../src/http/mod.ts";
import { noLeaks } from "./leak.ts";
import { withServer } from "./http_helpers.ts";

/** One request stream and the statuses it gets when sent whole. */
interface Case {
  name: string;
  bytes: Uint8Array;
  statuses: number[];
}

/** Pause between two pieces of a request (ms). */
const PAUSE = 3;
/** Connections sending split requests at the same time. */
const PARALLEL = 8;
/** Random splits of each large request. */
const LARGE_SPLITS = 24;

const decoder = new TextDecoder();

function latin1(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function get(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
}

function post(path: string, body: string, extra = ""): string {
  return `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;
}

function chunked(path: string, chunks: string, extra = ""): string {
  return `POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n${extra}\r\n${chunks}`;
}

const SMALL: [string, string, number[]][] = [
  ["GET", get("/a?b=c", "Cookie: a=1\r\n"), [200]],
  ["keep-alive sequence", get("/1") + get("/2") + get("/3"), [200, 200, 200]],
  [
    "pipelined, every framing",
    get("/a") + post("/b", "hello") +
    chunked("/c", "3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n") +
    "HEAD /d HTTP/1.1\r\nHost: x\r\n\r\n" + get("/e", "Connection: close\r\n"),
    [200, 200, 200, 200, 200],
  ],
  [
    "Content-Length bodies back to back",
    post("/p", "GET /in HTTP/1.1\r\nHost: x\r\n\r\n") + post("/q", "xy"),
    [200, 200],
  ],
  [
    "chunked: extensions, upper-case hex, trailers",
    chunked("/c", 'A;name="v"\r\n0123456789\r\n0;last\r\nX-Sum: 9\r\n\r\n'),
    [200],
  ],
  ["chunked: zero length", chunked("/z", "0\r\n\r\n"), [200]],
  ["chunked: one-byte chunks", chunked("/s", "1\r\na\r\n2\r\nbc\r\n0\r\n\r\n"), [200]],
  [
    "chunked: leading zeros and quoted extension",
    chunked("/q", '005 ; a = "q\\"x"\r\nhello\r\n0\r\n\r\n'),
    [200],
  ],
  ["HTTP/1.0", "GET /x HTTP/1.0\r\n\r\n", [200]],
  ["HTTP/1.0 keep-alive", "GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + get("/y"), [
    200,
    200,
  ]],
  ["leading empty lines", "\r\n\r\n" + get("/z"), [200]],
  ["empty lines between requests", get("/1") + "\r\n" + get("/2"), [200, 200]],
  [
    "100-continue",
    "PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    [100, 200],
  ],
  ["OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", [200]],
  ["malformed request line", "GET\r\n\r\n", [400]],
  ["bare LF", "GET / HTTP/1.1\nHost: x\n\n", [400]],
  ["bare CR before the request line", "\rET / HTTP/1.0\r\n\r\n", [400]],
  ["obs-fold", get("/", "X-A: 1\r\n  continued\r\n"), [400]],
  ["missing Host", "GET / HTTP/1.1\r\n\r\n", [400]],
  ["invalid Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", [400]],
  [
    "Content-Length and Transfer-Encoding",
    chunked("/", "0\r\n\r\n", "Content-Length: 3\r\n"),
    [400],
  ],
  [
    "differing Content-Lengths",
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    [400],
  ],
  ["TE gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", [501]],
  ["TE with NBSP", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \xa0chunked\r\n\r\n", [400]],
  ["TE trailing comma", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked,\r\n\r\n", [400]],
  ["bad chunk size", chunked("/", "zz\r\n"), [400]],
  ["chunk without CRLF", chunked("/", "3\r\nabcX\r\n0\r\n\r\n"), [400]],
  ["chunk extension without a name", chunked("/", "5;\r\nhello\r\n0\r\n\r\n"), [400]],
  ["obs-fold in a trailer", chunked("/", "1\r\na\r\n0\r\nX-A: 1\r\n b\r\n\r\n"), [400]],
  [
    "body shorter than Content-Length",
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
    [400],
  ],
  ["CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n" + get("/in"), [501]],
  ["too many empty lines", "\r\n".repeat(6) + get("/"), [400]],
  ["valid, then bad", get("/ok") + "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", [200, 400]],
];

const LARGE: [string, string, number[]][] = [
  ["large Content-Length body", post("/big", "b".repeat(20_000)), [200]],
  [
    "many chunks and trailers",
    chunked(
      "/many",
      Array.from({ length: 200 }, (_, i) =>
        `${(i % 30 + 1).toString(16)};n=${i}\r\n` +
        "c".repeat(i % 30 + 1) + "\r\n").join("") + "0\r\nT-A: 1\r\nT-B: 2\r\n\r\n",
    ),
    [200],
  ],
  ["large header block", get("/h", `X-Big: ${"h".repeat(7000)}\r\n`), [200]],
  [
    "twenty pipelined requests",
    Array.from(
      { length: 20 },
      (_, i) =>
        i % 3 === 0
          ? post(`/p${i}`, "x".repeat(i * 50))
          : i % 3 === 1
          ? chunked(`/c${i}`, `${i.toString(16)}\r\n${"y".repeat(i)}\r\n0\r\n\r\n`)
          : get(`/g${i}`),
    ).join(""),
    Array(20).fill(200),
  ],
  ["long request line", `GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`, [414]],
  ["too large headers", get("/", `X-A: ${"b".repeat(17_000)}\r\n`), [431]],
];

function toCases(list: [string, string, number[]][]): Case[] {
  return list.map(([name, text, statuses]) => ({ name, bytes: latin1(text), statuses }));
}

const app = async (req: HttpRequest) => {
  const body = await req.text();
  return json({
    method: req.method,
    target: req.target,
    body,
    trailers: req.body.trailers,
    size: req.headers.get("x-big")?.length ?? 0,
  });
};

// Deterministic PRNG (mulberry32), so a failure can be replayed.
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sorted distinct cut points splitting `length` bytes into `pieces` pieces. */
function randomCuts(r: () => number, length: number, pieces: number): number[] {
  const cuts = new Set<number>();
  while (cuts.size < pieces - 1) cuts.add(1 + Math.floor(r() * (length - 1)));
  return [...cuts].sort((a, b) => a - b);
}

/**
 * Sends `bytes` cut at `cuts` with a pause after each piece, half-closes,
 * and returns everything the server sent until it closed, with the Date
 * fields taken out.
 */
async function exchange(port: number, bytes: Uint8Array, cuts: number[]): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  let text = "";
  const timer = setTimeout(() => conn.close(), 5000);
  try {
    try {
      let at = 0;
      for (const cut of [...cuts, bytes.length]) {
        await writeAll(conn, bytes.subarray(at, cut));
        at = cut;
        if (cut < bytes.length) await new Promise((r) => setTimeout(r, PAUSE));
      }
      await conn.closeWrite();
    } catch (err) {
      // The server may close before every piece was written.
      if (!isGone(err)) throw err;
    }
    const buf = new Uint8Array(64 * 1024);
    for (let n; (n = await conn.read(buf)) !== null;) {
      text += decoder.decode(buf.subarray(0, n), { stream: true });
    }
  } catch (err) {
    if (err instanceof Deno.errors.BadResource) text += "<timed out>";
    else if (!isGone(err)) throw err;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
  return text.replace(/\r\ndate: [^\r]*/g, "");
}

function isGone(err: unknown): boolean {
  return err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BrokenPipe ||
    err instanceof Deno.errors.NotConnected;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
}

function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

/** Runs `jobs` on `PARALLEL` connections at a time. */
async function parallel(jobs: (() => Promise<void>)[]): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next < jobs.length) await jobs[next++]();
  }));
}

async function check(
  t: Deno.TestContext,
  port: number,
  cases: Case[],
  splits: (c: Case) => number[][],
) {
  for (const c of cases) {
    await t.step(c.name, async () => {
      const whole = await exchange(port, c.bytes, []);
      assertEquals(statuses(whole), c.statuses, whole);
      const mismatches: string[] = [];
      await parallel(
        splits(c).map((cuts) => async () => {
          const got = await exchange(port, c.bytes, cuts);
          if (got !== whole) mismatches.push(`cut at ${cuts.join(",")}: ${JSON.stringify(got)}`);
        }),
      );
      assertEquals(mismatches.slice(0, 3), [], `${mismatches.length} splits differ`);
    });
  }
}

const LIMITS = { headerTimeout: 5000, bodyTimeout: 5000, drainTimeout: 500 };

Deno.test(
  "http: small requests split at every byte get the same responses as whole",
  noLeaks(async (t) => {
    await withServer(app, LIMITS, async (port) => {
      await check(
        t,
        port,
        toCases(SMALL),
        (c) => Array.from({ length: c.bytes.length - 1 }, (_, i) => [i + 1]),
      );
    });
  }),
);

Deno.test(
  "http: large requests split at random boundaries get the same responses as whole",
  noLeaks(async (t) => {
    const r = rng(0x5e9);
    await withServer(app, LIMITS, async (port) => {
      await check(t, port, toCases(LARGE), (c) =>
        Array.from(
          { length: LARGE_SPLITS },
          () => randomCuts(r, c.bytes.length, 3 + Math.floor(r() * 4)),
        ));
    });
  }),
);

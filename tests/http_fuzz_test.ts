import { deepEqual as assertEquals, ok as assert } from "node:assert/strict";
import { json } from "../src/http/mod.ts";
import { noLeaks } from "./leak.ts";
import { parseResponses, rawExchange, withServer } from "./http_helpers.ts";

const COUNT = 10_000;
const CONCURRENCY = 16;
const encoder = new TextEncoder();

// Deterministic PRNG (mulberry32), so a failure can be replayed.
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = [
  "GET /a?b=c HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\n\r\n",
  "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
  "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: 1\r\n\r\n",
  "PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
  "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\nHost: y\r\n\r\n",
  "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
];
const SPECIAL = [..."\r\n :;,\t\0\x7f\x80\xff-0123456789abcdefABCDEF/?%#"].map((c) =>
  c.charCodeAt(0)
);

function mutate(r: () => number): Uint8Array {
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)];
  if (r() < 0.1) {
    const out = new Uint8Array(Math.floor(r() * 200));
    for (let i = 0; i < out.length; i++) out[i] = r() < 0.5 ? pick(SPECIAL) : Math.floor(r() * 256);
    return out;
  }
  const bytes = [...encoder.encode(pick(SEEDS))];
  const edits = 1 + Math.floor(r() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(r() * (bytes.length + 1));
    switch (Math.floor(r() * 6)) {
      case 0:
        bytes[at] = Math.floor(r() * 256);
        break;
      case 1:
        bytes.splice(at, 0, pick(SPECIAL));
        break;
      case 2:
        bytes.splice(at, 1 + Math.floor(r() * 4));
        break;
      case 3:
        bytes.length = Math.min(bytes.length, at);
        break;
      case 4:
        bytes.splice(
          at,
          0,
          ...encoder.encode(
            pick([
              "Content-Length: 3\r\n",
              "Transfer-Encoding: chunked\r\n",
              "Host: z\r\n",
              " folded\r\n",
              "fffffff\r\n",
            ]),
          ),
        );
        break;
      case 5:
        bytes.splice(at, 0, ...bytes.slice(0, Math.floor(r() * 40)));
        break;
    }
  }
  return new Uint8Array(bytes);
}

Deno.test(
  "http: fuzz — 10,000 random and mutated requests, then a valid one",
  noLeaks(async () => {
    await withServer(
      async (req) => json({ path: req.path, body: (await req.text()).length }),
      { headerTimeout: 2000, bodyTimeout: 2000, drainTimeout: 200 },
      async (port, server) => {
        const r = rng(0x5eed);
        const inputs = Array.from({ length: COUNT }, () => mutate(r));
        let next = 0, answered = 0;
        const statuses = new Map<string, number>();
        await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
          while (next < inputs.length) {
            const input = inputs[next++];
            const { text, closed } = await rawExchange(port, input, {
              halfClose: true,
              timeout: 5000,
            });
            assert(
              closed,
              `server left a connection open for ${
                JSON.stringify(new TextDecoder().decode(input))
              }, got ${JSON.stringify(text)}`,
            );
            const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? "none";
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (text) answered++;
          }
        }));
        assert(answered > COUNT / 2, `answered ${answered}`);
        const valid = await rawExchange(
          port,
          "GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assertEquals(JSON.parse(parseResponses(valid.text)[0].body), { path: "/after", body: 0 });
        assertEquals(server.connections, 0);
        console.log("statuses:", Object.fromEntries([...statuses].sort()));
      },
    );
  }),
);

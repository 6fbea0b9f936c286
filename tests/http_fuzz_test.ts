import { deepEqual as assertEquals, ok as assert } from "node:assert/strict";
import { type HttpRequest, json } from "../src/http/mod.ts";
import { sleep } from "../mod.ts";
import { noLeaks } from "./leak.ts";
import { client, parseResponses, rawExchange, readResponses, withServer } from "./http_helpers.ts";
import { corpusCases, latin1Text, mutatedCases, rng } from "./fixtures/http_corpus/generate.ts";

const COUNT = 10_000;
const CONCURRENCY = 16;
const encoder = new TextEncoder();

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

const HANDLER = async (req: HttpRequest) =>
  json({ path: req.path, body: (await req.text()).length });
const LIMITS = { headerTimeout: 2000, bodyTimeout: 2000, drainTimeout: 200 };

/** The inputs of both fuzz runs: the same seed, so the same bytes. */
function inputs(): Uint8Array[] {
  const r = rng(0x5eed);
  return Array.from({ length: COUNT }, () => mutate(r));
}

/**
 * Sends `input` in two writes split at `at`, `pause` ms apart, then
 * half-closes; returns what the server sent until it closed (or 5 s).
 */
async function splitExchange(
  port: number,
  input: Uint8Array,
  at: number,
  pause: number,
): Promise<{ text: string; closed: boolean }> {
  const conn = await client(port);
  try {
    const send = (part: Uint8Array) =>
      conn.write(part).catch((e) => {
        // The server may close after the first part: the answer is what it sent.
        if (e.code !== "connection_reset" && e.code !== "closed") throw e;
      });
    await send(input.subarray(0, at));
    await sleep(pause);
    await send(input.subarray(at));
    await conn.shutdown().catch(() => {});
    return await readResponses(conn, Infinity);
  } finally {
    conn.close();
  }
}

/** The statuses of the final (non-1xx) responses in `text`. */
function finalStatuses(text: string): string[] {
  return [...text.matchAll(/(?:^|\r\n)HTTP\/1\.1 ([2-5]\d\d) /g)].map((m) => m[1]);
}

Deno.test(
  "http: fuzz — 10,000 random and mutated requests, then a valid one",
  noLeaks(async () => {
    await withServer(
      HANDLER,
      LIMITS,
      async (port, server) => {
        const all = inputs();
        let next = 0, answered = 0;
        const statuses = new Map<string, number>();
        await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
          while (next < all.length) {
            const input = all[next++];
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

Deno.test(
  "http: fuzz — each mutated and corpus request split in two writes gets the answer it gets in one write",
  noLeaks(async () => {
    await withServer(HANDLER, LIMITS, async (port, server) => {
      const corpus = [...corpusCases(), ...mutatedCases()].map((c) => c.bytes);
      const all = [...inputs(), ...corpus];
      const r = rng(0x5b117);
      const splits = all.map((input) => ({
        input,
        at: 1 + Math.floor(r() * Math.max(1, input.length - 1)),
        pause: 1 + Math.floor(r() * 4),
      }));
      const differ: string[] = [];
      let next = 0;
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < splits.length) {
          const { input, at, pause } = splits[next++];
          const whole = await rawExchange(port, input, { halfClose: true, timeout: 5000 });
          const split = await splitExchange(port, input, at, pause);
          const bytes = JSON.stringify(latin1Text(input));
          assert(split.closed, `split at ${at}: connection left open for ${bytes}: ${split.text}`);
          const a = finalStatuses(whole.text), b = finalStatuses(split.text);
          if (a.join() !== b.join()) {
            differ.push(`${bytes} split at ${at}: whole [${a}], split [${b}]`);
          }
        }
      }));
      const valid = await splitExchange(
        port,
        new TextEncoder().encode("GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        20,
        5,
      );
      assertEquals(JSON.parse(parseResponses(valid.text)[0].body), { path: "/after", body: 0 });
      assertEquals(server.connections, 0);
      assert(
        differ.length === 0,
        `${differ.length} of ${all.length} requests answered differently when split:\n${
          differ.slice(0, 40).join("\n")
        }`,
      );
    });
  }),
);

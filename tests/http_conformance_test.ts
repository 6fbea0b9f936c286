/**
 * HTTP/1.1 conformance: request heads that arrive in pieces, strict
 * whitespace in field lists, CONNECT, half-closed clients, framing owned
 * by the engine, blank lines before a request, Host values, chunk
 * extensions and sizes, and JSON with bigints.
 */
import { deepEqual as assertEquals, ok as assert } from "node:assert/strict";
import { sleep } from "../mod.ts";
import { type HttpRequest, json, respond, text } from "../src/http/mod.ts";
import { noLeaks } from "./leak.ts";
import {
  client,
  parseResponses,
  rawExchange,
  readResponses,
  statusOf,
  withServer,
} from "./http_helpers.ts";

const echo = async (req: HttpRequest) =>
  json({ method: req.method, path: req.path, body: await req.text() });

/** Bytes of `s` taken as latin1 (one byte per UTF-16 unit). */
function latin1(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** The lines of the first response head in `raw`, lower-cased names. */
function headLines(raw: string): string[] {
  return raw.slice(0, raw.indexOf("\r\n\r\n")).split("\r\n").slice(1).map((l) => l.toLowerCase());
}

function count(lines: string[], name: string): number {
  return lines.filter((l) => l.startsWith(name + ":")).length;
}

Deno.test(
  "http: keep-alive request heads arriving in two reads are all served",
  noLeaks(async () => {
    await withServer(echo, { headerTimeout: 2000 }, async (port) => {
      const conn = await client(port);
      try {
        const pad = "X-Pad: " + "p".repeat(1500) + "\r\n";
        for (let i = 0; i < 40; i++) {
          const head = `GET /r${i} HTTP/1.1\r\nHost: x\r\n${pad}`;
          await conn.write(head);
          await sleep(10);
          await conn.write("X-Last: 1\r\n\r\n");
          const { text: raw } = await readResponses(conn, 1, { timeout: 3000 });
          const res = parseResponses(raw);
          assertEquals(res.length, 1, `request ${i}: ${JSON.stringify(raw)}`);
          assertEquals([res[0].status, JSON.parse(res[0].body).path], [200, `/r${i}`]);
        }
      } finally {
        conn.close();
      }
    });
  }),
);

Deno.test(
  "http: a split head followed by pipelined bodies keeps its framing",
  noLeaks(async () => {
    await withServer(echo, { headerTimeout: 2000 }, async (port) => {
      const conn = await client(port);
      try {
        const inner = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
        const pad = "X-Pad: " + "p".repeat(1500) + "\r\n";
        for (let i = 0; i < 45; i++) {
          await conn.write(`POST /p${i} HTTP/1.1\r\nHost: x\r\n${pad}`);
          await sleep(10);
          await conn.write(
            `Content-Length: ${inner.length}\r\n\r\n${inner}` +
              `POST /q${i} HTTP/1.1\r\nHost: x\r\nContent-Length: ${inner.length}\r\n\r\n${inner}`,
          );
          const { text: raw } = await readResponses(conn, 2, { timeout: 3000 });
          const res = parseResponses(raw).map((r) => [r.status, JSON.parse(r.body)]);
          assertEquals(res, [
            [200, { method: "POST", path: `/p${i}`, body: inner }],
            [200, { method: "POST", path: `/q${i}`, body: inner }],
          ], `round ${i}`);
        }
      } finally {
        conn.close();
      }
    });
  }),
);

Deno.test(
  "http: field lists take only SP and HTAB as whitespace",
  noLeaks(async (t) => {
    await withServer(echo, {}, async (port) => {
      const cases: [string, string, number][] = [
        ["NBSP before chunked", "Transfer-Encoding: \xa0chunked\r\n", 400],
        ["NBSP after chunked", "Transfer-Encoding: chunked\xa0\r\n", 400],
        ["trailing comma", "Transfer-Encoding: chunked,\r\n", 400],
        ["empty element", "Transfer-Encoding: , chunked\r\n", 400],
        ["chunked with a parameter", "Transfer-Encoding: chunked;q=1\r\n", 400],
        ["NBSP in Connection", "Connection: \xa0close\r\n", 400],
      ];
      for (const [name, field, status] of cases) {
        await t.step(`${name} → ${status}`, async () => {
          const request = `POST / HTTP/1.1\r\nHost: x\r\n${field}\r\n0\r\n\r\n`;
          const { text: raw, closed } = await rawExchange(port, latin1(request), {
            halfClose: true,
          });
          assertEquals(statusOf(raw), status, raw);
          assert(closed);
        });
      }
      await t.step("OWS around list elements is accepted", async () => {
        const request = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\t chunked \t\r\n" +
          "Connection: foo ,\tclose\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        const { text: raw, closed } = await rawExchange(port, request);
        const [res] = parseResponses(raw);
        assertEquals([res.status, JSON.parse(res.body).body], [200, "abc"]);
        assert(closed, "Connection: close honoured");
      });
    });
  }),
);

Deno.test(
  "http: CONNECT is refused and the connection closed",
  noLeaks(async () => {
    let calls = 0;
    await withServer(
      () => {
        calls++;
        return "tunnel";
      },
      {},
      async (port) => {
        const { text: raw, closed } = await rawExchange(
          port,
          "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n" +
            "GET /inner HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        const res = parseResponses(raw);
        assertEquals(res.map((r) => r.status), [501]);
        assert(closed);
        assertEquals(calls, 0);
      },
    );
  }),
);

Deno.test(
  "http: a half-closed client still gets its response",
  noLeaks(async (t) => {
    await withServer(
      async (req) => {
        await sleep(30);
        if (req.path === "/stream") {
          return respond((async function* () {
            for (let i = 0; i < 3; i++) {
              await sleep(10);
              yield `${i}`;
            }
          })());
        }
        return json({ path: req.path, body: await req.text() });
      },
      {},
      async (port) => {
        await t.step("GET then FIN", async () => {
          const { text: raw, closed } = await rawExchange(
            port,
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
            {
              halfClose: true,
            },
          );
          const res = parseResponses(raw);
          assertEquals(res.map((r) => [r.status, JSON.parse(r.body).path]), [[200, "/a"]]);
          assert(closed);
        });
        await t.step("streamed response after FIN", async () => {
          const { text: raw } = await rawExchange(port, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", {
            halfClose: true,
          });
          assertEquals(parseResponses(raw).map((r) => [r.status, r.body]), [[200, "012"]]);
        });
        await t.step("pipelined requests then FIN", async () => {
          const { text: raw } = await rawExchange(
            port,
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
              "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi" +
              "GET /c HTTP/1.1\r\nHost: x\r\n\r\n",
            { halfClose: true },
          );
          const res = parseResponses(raw).map((r) => [r.status, JSON.parse(r.body)]);
          assertEquals(res, [
            [200, { path: "/a", body: "" }],
            [200, { path: "/b", body: "hi" }],
            [200, { path: "/c", body: "" }],
          ]);
        });
      },
    );
  }),
);

Deno.test(
  "http: framing headers of a handler never reach the wire beside the engine's",
  noLeaks(async (t) => {
    const routes: Record<string, () => unknown> = {
      "/stream": () =>
        respond(
          (async function* () {
            yield "ab";
            yield "c";
          })(),
          { headers: { "content-length": "3", "x-kept": "1" } },
        ),
      "/text": () => text("abc", { headers: { "content-length": "3" } }),
      "/te": () => text("abc", { headers: { "transfer-encoding": "chunked" } }),
      "/conn": () => json({ ok: true }, { headers: [["connection", "keep-alive"]] }),
      "/headers": () => respond("abc", { headers: new Headers({ "Content-Length": "99" }) }),
    };
    await withServer((req) => routes[req.path]() as string, {}, async (port) => {
      for (const path of Object.keys(routes)) {
        await t.step(path, async () => {
          const { text: raw } = await rawExchange(
            port,
            `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
          );
          const lines = headLines(raw);
          const framing = count(lines, "content-length") + count(lines, "transfer-encoding");
          assertEquals(framing, 1, raw);
          assertEquals(count(lines, "connection"), 1, raw);
          assert(lines.includes("connection: close"), raw);
          const [res] = parseResponses(raw);
          assertEquals(res.body.length > 0, true);
          if (path === "/stream") {
            assertEquals([res.body, res.headers["x-kept"]], ["abc", "1"]);
          }
        });
      }
    });
  }),
);

Deno.test(
  "http: blank lines before a request count toward the header timeout and are capped",
  noLeaks(async (t) => {
    await withServer(echo, { headerTimeout: 400, idleTimeout: 1000 }, async (port) => {
      await t.step("a CRLF every 100 ms does not keep the connection open", async () => {
        const conn = await client(port);
        try {
          const started = Date.now();
          let closed = false;
          for (let i = 0; i < 30 && !closed; i++) {
            try {
              await conn.write("\r\n");
            } catch {
              closed = true;
              break;
            }
            const got = await conn.read({ timeout: 100 }).catch((e) => {
              if (e.code === "timeout") return undefined;
              return null;
            });
            if (got === null) closed = true;
          }
          assert(closed, "connection still open after 3 s of blank lines");
          assert(Date.now() - started < 1500, `closed after ${Date.now() - started} ms`);
        } finally {
          conn.close();
        }
      });
      await t.step("many blank lines get 400", async () => {
        const { text: raw, closed } = await rawExchange(
          port,
          "\r\n".repeat(20) + "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        assertEquals(statusOf(raw), 400, raw);
        assert(closed);
      });
      await t.step("two blank lines are still ignored", async () => {
        const { text: raw } = await rawExchange(
          port,
          "\r\n\r\nGET /z HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assertEquals(statusOf(raw), 200, raw);
      });
    });
  }),
);

Deno.test(
  "http: malformed framing details get 400",
  noLeaks(async (t) => {
    await withServer(echo, {}, async (port) => {
      const chunked = (body: string) =>
        `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}`;
      const cases: [string, string][] = [
        ["bare CR before the request line", "\rET / HTTP/1.0\r\n\r\n"],
        ["bare LF before the request line", "\nGET / HTTP/1.0\r\n\r\n"],
        ["Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"],
        ["Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"],
        ["Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"],
        ["Host with a bad port", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n"],
        ["Host with an open bracket", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"],
        ["Host with a bad escape", "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n"],
        ["Host repeated on HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"],
        ["chunk extension without a name", chunked("5;\r\nhello\r\n0\r\n\r\n")],
        ["chunk extension with =", chunked("5;=v\r\nhello\r\n0\r\n\r\n")],
        ["unbalanced quote", chunked('5;a="b\r\nhello\r\n0\r\n\r\n')],
        ["text after the quote", chunked('5;a="b"c\r\nhello\r\n0\r\n\r\n')],
        ["name without a value", chunked("5;a=\r\nhello\r\n0\r\n\r\n")],
        ["space inside a name", chunked("5;a b=c\r\nhello\r\n0\r\n\r\n")],
      ];
      for (const [name, request] of cases) {
        await t.step(`${name} → 400`, async () => {
          const { text: raw, closed } = await rawExchange(port, request, { halfClose: true });
          assertEquals(statusOf(raw), 400, raw);
          assert(closed);
        });
      }
      const valid: [string, string, string][] = [
        ["empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", ""],
        ["Host with a port", "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", ""],
        ["IPv6 Host", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", ""],
        ["escaped Host", "GET / HTTP/1.1\r\nHost: a%41.b-c_d~e!$&'()*+,;=\r\n\r\n", ""],
        [
          "leading zeros in a chunk size",
          chunked("00000000000000005\r\nhello\r\n0\r\n\r\n"),
          "hello",
        ],
        [
          "extensions by the grammar",
          chunked('5 ; a = b ;c;d="q\\"\\\\ x"\r\nhello\r\n0;z\r\n\r\n'),
          "hello",
        ],
      ];
      for (const [name, request, body] of valid) {
        await t.step(`${name} → 200`, async () => {
          const { text: raw } = await rawExchange(port, request, { halfClose: true });
          const [res] = parseResponses(raw);
          assertEquals([res.status, JSON.parse(res.body).body], [200, body], raw);
        });
      }
    });
  }),
);

Deno.test(
  "http: json() sends bigints as numbers when safe, else as strings",
  noLeaks(async () => {
    const big = 2n ** 64n;
    await withServer(
      (req) =>
        req.path === "/plain" ? { n: 7n } : json({ small: 42n, big, list: [-3n, -big], s: "x" }),
      {},
      async (port) => {
        const conn = await client(port);
        try {
          await conn.write(
            "GET /json HTTP/1.1\r\nHost: x\r\n\r\nGET /plain HTTP/1.1\r\nHost: x\r\n\r\n",
          );
          const { text: raw } = await readResponses(conn, 2);
          const res = parseResponses(raw);
          assertEquals(res.map((r) => r.status), [200, 200]);
          assertEquals(JSON.parse(res[0].body), {
            small: 42,
            big: String(big),
            list: [-3, String(-big)],
            s: "x",
          });
          assertEquals(JSON.parse(res[1].body), { n: 7 });
        } finally {
          conn.close();
        }
      },
    );
  }),
);

Deno.test(
  "http: cookies and the form content type take only SP and HTAB as whitespace",
  noLeaks(async () => {
    await withServer(
      async (req) => {
        // Escaped, so the response stays ASCII.
        const escaped = (o: Record<string, unknown>) =>
          Object.entries(o).map(([k, v]) => encodeURIComponent(`${k}=${v}`));
        if (req.method === "GET") return json(escaped(req.cookies));
        return json(escaped(Object.fromEntries(await req.form())));
      },
      {},
      async (port) => {
        const conn = await client(port);
        try {
          await conn.write(latin1(
            "GET / HTTP/1.1\r\nHost: x\r\nCookie: \xa0a=1;\t b=\xa02 \r\n\r\n" +
              "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n" +
              "Content-Type: application/x-www-form-urlencoded \t; charset=utf-8\r\n\r\na=1" +
              "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n" +
              "Content-Type: application/x-www-form-urlencoded\xa0\r\n\r\na=1",
          ));
          const { text: raw } = await readResponses(conn, 3);
          const res = parseResponses(raw).map((r) => [r.status, JSON.parse(r.body)]);
          assertEquals(res.slice(0, 2), [[200, ["%C2%A0a%3D1", "b%3D%C2%A02"]], [200, ["a%3D1"]]]);
          assertEquals(res[2][0], 415);
        } finally {
          conn.close();
        }
      },
    );
  }),
);

Deno.test(
  "http: a repeated Content-Length is refused even when the values agree",
  noLeaks(async (t) => {
    await withServer(echo, {}, async (port) => {
      const post = (fields: string) => `POST / HTTP/1.1\r\nHost: x\r\n${fields}\r\nhello`;
      const cases: [string, string][] = [
        ["twice, equal", post("Content-Length: 5\r\nContent-Length: 5\r\n")],
        ["an equal list", post("Content-Length: 5, 5\r\n")],
        ["an equal list without spaces", post("Content-Length: 5,5\r\n")],
        ["with Transfer-Encoding", post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")],
        ["signed", post("Content-Length: +5\r\n")],
        ["hexadecimal", post("Content-Length: 0x5\r\n")],
        ["with a letter", post("Content-Length: 5a\r\n")],
        ["empty", post("Content-Length: \r\n")],
      ];
      for (const [name, request] of cases) {
        await t.step(`${name} → 400`, async () => {
          const { text: raw, closed } = await rawExchange(port, request, { halfClose: true });
          assertEquals(statusOf(raw), 400, raw);
          assert(closed);
        });
      }
    });
  }),
);

Deno.test(
  "http: a head already malformed is refused at once, before its blank line arrives",
  noLeaks(async (t) => {
    await withServer(echo, { headerTimeout: 10_000 }, async (port) => {
      const cases: [string, string, number[]][] = [
        ["a TLS client hello", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", [400]],
        ["a method ended by LF", "hell\n", [400]],
        ["a bare CR in the request line", "GET /a?b=c HTTP/1.1\r\r\nHost: a\r\n", [400]],
        ["a bare CR then a colon", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r:", [
          400,
        ]],
        ["a bare CR then HTAB", "GET /a HTTP/1.1\r\nHost: a\r\nAccept: */*\r\t\r\n", [400]],
        ["a bare CR then NBSP", "POST /p HTTP/1.1\r\nHost: a\r\n\r\xa0hello", [400]],
        ["a bare LF in a name", "POST /p HTTP/1.1\r\nHost: a\r\nC\nntent-Length: 5\r\n", [400]],
        ["a line starting with NBSP", "GET /a HTTP/1.1\r\nHost: a\r\n\xa0\r\n", [400]],
        ["a line starting with NUL", "GET / HTTP/1.0\r\nConnection: x\r\n\x00\n", [400]],
        ["a control byte in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb", [400]],
        ["obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b", [400]],
        [
          "the second of a pipeline",
          "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHo\rst: a\r\n \r\n",
          [200, 400],
        ],
        [
          "a method ended by LF after a request without a body",
          "POST /p HTTP/1.1\r\nHost: a\r\nContent:Length: 5\r\n\r\nhell\n",
          [200, 400],
        ],
      ];
      for (const [name, request, statuses] of cases) {
        await t.step(`${name} → ${statuses.join(", ")}`, async () => {
          const { text: raw, closed } = await rawExchange(port, latin1(request), { timeout: 2000 });
          assertEquals(parseResponses(raw).map((r) => r.status), statuses, raw);
          assert(closed, "connection left open");
        });
      }
      await t.step("a valid partial head waits, even ending in CR", async () => {
        const conn = await client(port);
        try {
          await conn.write("GET /w HTTP/1.1\r\nHost: a\r");
          const early = await readResponses(conn, 1, { timeout: 300 });
          assertEquals([early.text, early.closed], ["", false]);
          await conn.write("\n\r\n");
          const { text: raw } = await readResponses(conn, 1);
          assertEquals(parseResponses(raw).map((r) => r.status), [200], raw);
        } finally {
          conn.close();
        }
      });
    });
  }),
);

/** Sends `bytes` in pieces cut at `cuts`, pausing between them; returns the statuses. */
async function splitStatuses(port: number, bytes: Uint8Array, cuts: number[]): Promise<number[]> {
  const conn = await client(port);
  try {
    let at = 0;
    for (const cut of [...cuts, bytes.length]) {
      await conn.write(bytes.subarray(at, cut)).catch(() => {});
      at = cut;
      await sleep(20);
    }
    await conn.shutdown().catch(() => {});
    const { text: raw } = await readResponses(conn, 10, { timeout: 3000 });
    return parseResponses(raw).map((r) => r.status);
  } finally {
    conn.close();
  }
}

Deno.test(
  "http: the status of an oversized or malformed head does not depend on how it is split",
  noLeaks(async (t) => {
    await withServer(echo, { headerTimeout: 5000, drainTimeout: 300 }, async (port) => {
      const line = (target: string) => `GET /${target} HTTP/1.1\r\nHost: a\r\n\r\n`;
      const cases: [string, string, number[]][] = [
        ["a request line past the header limit", line("a".repeat(20_000)), [1325, 9000]],
        [
          "a request line of exactly the limit",
          `GET /${"a".repeat(8192 - 14)} HTTP/1.1\r\nHost: a\r\n\r\n`,
          [8192, 8193],
        ],
        [
          "a request line past the limit with a bad byte",
          `GET /${"a".repeat(9000)}\x01 HTTP/1.1\r\nHost: a\r\n\r\n`,
          [100],
        ],
        [
          "an unsupported version before a bad field",
          "GET / HTTP/2.0\r\nHost: a\r\nX\x01: b\r\n\r\n",
          [20],
        ],
        [
          "an unknown expectation before a bad field",
          "GET / HTTP/1.1\r\nHost: a\r\nExpect: x\r\nX: \x01\r\n\r\n",
          [40],
        ],
      ];
      for (const [name, text, cuts] of cases) {
        await t.step(name, async () => {
          const bytes = latin1(text);
          const whole = await splitStatuses(port, bytes, []);
          assertEquals(whole.length, 1, `no single answer sent whole: ${whole}`);
          for (const cut of cuts) {
            assertEquals(await splitStatuses(port, bytes, [cut]), whole, `split at ${cut}`);
          }
        });
      }
    });
  }),
);

Deno.test(
  "http: multipart types, part headers and parameters take only SP and HTAB as whitespace",
  noLeaks(async (t) => {
    await withServer(
      async (req) => json([...(await req.form()).entries()]),
      {},
      async (port) => {
        const send = async (type: string, partHeader: string) => {
          const body = new TextEncoder().encode(
            `--b\r\n${partHeader}\r\n\r\nv\r\n--b--\r\n`,
          );
          const head = latin1(
            `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\n` +
              `Content-Length: ${body.length}\r\n\r\n`,
          );
          const bytes = new Uint8Array(head.length + body.length);
          bytes.set(head);
          bytes.set(body, head.length);
          const { text: raw } = await rawExchange(port, bytes, { halfClose: true });
          return parseResponses(raw)[0];
        };
        const ok = 'Content-Disposition: form-data; name="a"';
        await t.step("SP and HTAB are whitespace", async () => {
          const res = await send(
            "multipart/form-data \t; boundary=b",
            'Content-Disposition:\t form-data ;\tname = "a" \t',
          );
          assertEquals([res.status, JSON.parse(res.body)], [200, [["a", "v"]]]);
        });
        const refused: [string, string, string, number][] = [
          ["in the content type", "multipart/form-data\xa0; boundary=b", ok, 415],
          [
            "after a part header name",
            "multipart/form-data; boundary=b",
            ok.replace(":", "\u00a0:"),
            400,
          ],
          [
            "before a part header value",
            "multipart/form-data; boundary=b",
            ok.replace(" ", "\u00a0"),
            400,
          ],
          [
            "before a parameter",
            "multipart/form-data; boundary=b",
            ok.replace("; ", ";\u00a0"),
            400,
          ],
        ];
        for (const [name, type, header, status] of refused) {
          await t.step(`U+00A0 ${name} → ${status}`, async () => {
            const res = await send(type, header);
            assertEquals(res.status, status, res.body);
          });
        }
      },
    );
  }),
);

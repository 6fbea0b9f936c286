import {
  deepEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import { Cancelled, current, sleep, spawn } from "../mod.ts";
import { connect } from "../src/socket.ts";
import { HttpError, json, respond, Router, sse } from "../src/http/mod.ts";
import { noLeaks } from "./leak.ts";
import { client, parseResponses, rawExchange, statusOf, withServer } from "./http_helpers.ts";

const echo = async (req: import("../src/http/mod.ts").HttpRequest) =>
  json({ method: req.method, path: req.path, body: await req.text() });

function get(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
}

Deno.test(
  "http: bad input gets the right status and a closed connection",
  noLeaks(async (t) => {
    await withServer(echo, {
      maxBodyBytes: 1000,
      maxRequestLineBytes: 200,
      maxHeaderBytes: 1024,
      maxHeaderCount: 10,
    }, async (port) => {
      const cases: [string, string, number][] = [
        ["malformed request line", "GET\r\n\r\n", 400],
        ["space in target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400],
        ["bad version", "GET / HTTX/1.1\r\nHost: x\r\n\r\n", 400],
        ["HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505],
        ["space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400],
        ["obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  continued\r\n\r\n", 400],
        ["bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400],
        ["bare CR in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400],
        ["NUL in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 400],
        ["missing Host", "GET / HTTP/1.1\r\n\r\n", 400],
        ["two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
        [
          "CL and TE",
          "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
          400,
        ],
        [
          "differing CLs",
          "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
          400,
        ],
        [
          "CL list differing",
          "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\nabcd",
          400,
        ],
        ["negative CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400],
        ["CL with sign", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400],
        ["TE gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501],
        [
          "TE gzip, chunked",
          "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
          501,
        ],
        [
          "TE chunked twice",
          "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
          400,
        ],
        ["TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400],
        [
          "bad chunk size",
          "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
          400,
        ],
        [
          "chunk without CRLF",
          "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
          400,
        ],
        [
          "huge chunk size",
          "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
          413,
        ],
        [
          "chunks over the limit",
          "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" +
          "a".repeat(1000) + "\r\n1\r\n",
          413,
        ],
        ["CL over the limit", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n", 413],
        [
          "CL overflow",
          "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
          413,
        ],
        ["long target", `GET /${"a".repeat(300)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
        ["long line, no LF", `GET /${"a".repeat(2000)}`, 414],
        [
          "too many headers",
          "GET / HTTP/1.1\r\nHost: x\r\n" + "X-A: 1\r\n".repeat(11) + "\r\n",
          431,
        ],
        [
          "too large headers",
          "GET / HTTP/1.1\r\nHost: x\r\nX-A: " + "b".repeat(1100) + "\r\n\r\n",
          431,
        ],
        ["unknown expectation", "GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", 417],
        ["asterisk outside OPTIONS", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400],
        [
          "body shorter than CL",
          "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
          400,
        ],
      ];
      for (const [name, request, status] of cases) {
        await t.step(`${name} → ${status}`, async () => {
          const { text, closed } = await rawExchange(port, request, { halfClose: true });
          assertEquals(statusOf(text), status, text);
          assert(closed, "connection closed");
          const [res] = parseResponses(text);
          assertEquals(res.headers.connection, "close");
          assertEquals(typeof JSON.parse(res.body).error, "string");
        });
      }
      await t.step("server still answers", async () => {
        const { text } = await rawExchange(port, get("/ok", "Connection: close\r\n"));
        assertEquals(statusOf(text), 200);
      });
    });
  }),
);

Deno.test(
  "http: keep-alive, pipelining, HEAD, HTTP/1.0",
  noLeaks(async (t) => {
    await withServer(echo, {}, async (port) => {
      await t.step("pipelined requests are answered in order on one connection", async () => {
        const reqs = [
          get("/a"),
          "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
          "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
          "HEAD /d HTTP/1.1\r\nHost: x\r\n\r\n",
          get("/e", "Connection: close\r\n"),
        ].join("");
        const { text, closed } = await rawExchange(port, reqs);
        assert(closed);
        const rs = parseResponses(text, [3]);
        assertEquals(rs.map((r) => r.status), [200, 200, 200, 200, 200]);
        assertEquals(JSON.parse(rs[0].body).path, "/a");
        assertEquals(JSON.parse(rs[1].body).body, "hello");
        assertEquals(JSON.parse(rs[2].body).body, "abc");
        // HEAD: headers with the length, no body (the next response follows directly)
        assertEquals(rs[3].headers["content-length"], "39");
        assertEquals(JSON.parse(rs[4].body).path, "/e");
        assertEquals(rs[4].headers.connection, "close");
      });
      await t.step("HTTP/1.0 closes by default, keeps alive when asked", async () => {
        let r = await rawExchange(port, "GET /x HTTP/1.0\r\n\r\n");
        assert(r.closed);
        assertEquals(statusOf(r.text), 200);
        r = await rawExchange(port, "GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", {
          timeout: 300,
        });
        assert(!r.closed);
        assertEquals(statusOf(r.text), 200);
      });
      await t.step("leading blank lines are ignored", async () => {
        const r = await rawExchange(port, "\r\n\r\n" + get("/z", "Connection: close\r\n"));
        assertEquals(statusOf(r.text), 200);
      });
      await t.step("request split into single bytes", async () => {
        const conn = await client(port);
        const req =
          "POST /s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
          "1\r\na\r\n2\r\nbc\r\n0\r\n\r\n";
        for (const ch of req) await conn.write(ch);
        let text = "";
        for (let c; (c = await conn.read()) !== null;) text += new TextDecoder().decode(c);
        conn.close();
        assertEquals(JSON.parse(parseResponses(text)[0].body).body, "abc");
      });
    });
  }),
);

Deno.test(
  "http: chunked edge cases and 100-continue",
  noLeaks(async (t) => {
    await withServer(
      async (req) => {
        const body = await req.text();
        return json({ body, trailers: req.body.trailers });
      },
      {},
      async (port) => {
        const post = (te: string, extra = "") =>
          `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n${extra}\r\n${te}`;
        await t.step("zero-length body", async () => {
          const r = parseResponses((await rawExchange(port, post("0\r\n\r\n"))).text)[0];
          assertEquals(JSON.parse(r.body), { body: "", trailers: [] });
        });
        await t.step("extensions, upper-case hex, trailers", async () => {
          const r = parseResponses(
            (await rawExchange(
              port,
              post('A;name="v"\r\n0123456789\r\n0;last\r\nX-Sum: 9\r\n\r\n'),
            )).text,
          )[0];
          assertEquals(JSON.parse(r.body), { body: "0123456789", trailers: [["x-sum", "9"]] });
        });
        await t.step("obs-fold in trailer is refused", async () => {
          const r = await rawExchange(port, post("1\r\na\r\n0\r\nX-A: 1\r\n b\r\n\r\n"));
          assertEquals(statusOf(r.text), 400);
        });
        await t.step("Expect: 100-continue gets 100 before the body", async () => {
          const conn = await client(port);
          await conn.write(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
          );
          const first = new TextDecoder().decode((await conn.read())!);
          assertEquals(first, "HTTP/1.1 100 Continue\r\n\r\n");
          await conn.write("xyz");
          let text = "";
          for (let c; (c = await conn.read()) !== null;) text += new TextDecoder().decode(c);
          conn.close();
          assertEquals(JSON.parse(parseResponses(text)[0].body).body, "xyz");
        });
      },
    );
  }),
);

Deno.test(
  "http: timeouts — slowloris gets 408, idle connections close",
  noLeaks(async (t) => {
    await withServer(
      echo,
      { headerTimeout: 300, idleTimeout: 300, bodyTimeout: 300 },
      async (port) => {
        await t.step("slowloris: partial head, then silence → 408 and close", async () => {
          const conn = await client(port);
          await conn.write("GET / HTTP/1.1\r\nHost: x\r\n");
          const write = spawn(async () => {
            for (let i = 0; i < 20; i++) {
              await sleep(50);
              await conn.write("X-A: 1\r\n");
            }
          });
          let text = "";
          for (let c; (c = await conn.read({ timeout: 5000 })) !== null;) {
            text += new TextDecoder().decode(c);
          }
          await write.then(undefined, () => {});
          conn.close();
          assertEquals(statusOf(text), 408);
        });
        await t.step("stalled body → 408 and close", async () => {
          const r = await rawExchange(
            port,
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
          );
          assertEquals(statusOf(r.text), 408);
          assert(r.closed);
        });
        await t.step("idle keep-alive connection is closed quietly", async () => {
          const r = await rawExchange(port, get("/"));
          assertEquals(parseResponses(r.text).length, 1);
          assert(r.closed);
        });
      },
    );
  }),
);

Deno.test(
  "http: responses — streams, bytes, web Response, header validation, errors",
  noLeaks(async (t) => {
    const app = new Router()
      .get("/stream", () =>
        respond((async function* () {
          yield "a";
          yield new Uint8Array([98]);
          yield "c";
        })()))
      .get("/web", () => new Response("web body", { status: 201, headers: { "x-w": "1" } }))
      .get("/bytes", () => new Uint8Array([1, 2, 3]))
      .get("/none", () => undefined)
      .get("/teapot", () => {
        throw new HttpError(418, "short and stout");
      })
      .get("/crash", () => {
        throw new Error("boom");
      })
      .get("/crlf", () => json({}, { headers: { "x-a": "a\r\nSet-Cookie: evil=1" } }));
    const errors: unknown[] = [];
    await withServer(app, { onError: (e) => errors.push(e) }, async (port) => {
      const one = async (path: string, version = "1.1") => {
        const host = version === "1.1" ? "Host: x\r\n" : "";
        const r = await rawExchange(
          port,
          `GET ${path} HTTP/${version}\r\n${host}Connection: close\r\n\r\n`,
        );
        return parseResponses(r.text)[0];
      };
      await t.step("async iterable body is sent chunked", async () => {
        const r = await one("/stream");
        assertEquals(r.headers["transfer-encoding"], "chunked");
        assertEquals(r.body, "abc");
      });
      await t.step("HTTP/1.0 gets a close-delimited stream", async () => {
        const r = await one("/stream", "1.0");
        assertEquals(r.headers["transfer-encoding"], undefined);
        assertEquals(r.body, "abc");
      });
      await t.step("web Response", async () => {
        const r = await one("/web");
        assertEquals([r.status, r.headers["x-w"], r.body], [201, "1", "web body"]);
      });
      await t.step("bytes and 204", async () => {
        assertEquals((await one("/bytes")).headers["content-length"], "3");
        const r = await one("/none");
        assertEquals([r.status, r.headers["content-length"]], [204, undefined]);
      });
      await t.step("HttpError and crashes", async () => {
        assertEquals((await one("/teapot")).status, 418);
        assertEquals((await one("/crash")).status, 500);
        const crlf = await one("/crlf");
        assertEquals(crlf.status, 500);
        assertEquals(crlf.headers["set-cookie"], undefined);
        assertEquals(errors.length, 2);
      });
      await t.step("router 404 and 405 as JSON", async () => {
        const r404 = await one("/nope");
        assertEquals([r404.status, JSON.parse(r404.body)], [404, {
          error: "Not found",
          path: "/nope",
        }]);
        const r = await rawExchange(
          port,
          "POST /bytes HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        const r405 = parseResponses(r.text)[0];
        assertEquals([r405.status, r405.headers.allow], [405, "GET, HEAD"]);
      });
    });
  }),
);

// The client (Node's net socket, which can reset) leaves while the handler
// works on the response; a plain FIN would be a half-close, still answered.
async function resetAfter(port: number, request: string, ms: number): Promise<void> {
  const script = `const s = require("net").connect(${port}, "127.0.0.1", () => {
    s.write(${JSON.stringify(request)});
    setTimeout(() => s.resetAndDestroy(), ${ms});
  });`;
  const out = await new Deno.Command("node", { args: ["-e", script] }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
}

for (
  const [name, request] of [
    ["no", "GET /work HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["a Content-Length", "POST /work HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"],
    [
      "a chunked",
      "POST /work HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    ],
  ]
) {
  Deno.test(
    `http: a handler of a request with ${name} body is cancelled when its client resets`,
    noLeaks(async () => {
      let cancelled: (v: unknown) => void;
      const wasCancelled = new Promise((r) => cancelled = r);
      const app = async (req: import("../src/http/mod.ts").HttpRequest) => {
        assertEquals(await req.text(), req.method === "POST" ? "{}" : "");
        try {
          await sleep(3_000);
        } catch (err) {
          cancelled(err);
          throw err;
        }
        return "late";
      };
      await withServer(app, {}, async (port) => {
        await resetAfter(port, request, 100);
        const err = await Promise.race([wasCancelled, sleep(2_000).then(() => "not cancelled")]);
        assert(err instanceof Cancelled, String(err));
      });
    }),
  );
}

Deno.test(
  "http: the handler's task is cancelled when the client disconnects (SSE)",
  noLeaks(async () => {
    let cancelled: (v: unknown) => void;
    const wasCancelled = new Promise((r) => cancelled = r);
    const app = () =>
      sse(async (stream) => {
        try {
          for (let i = 0;; i++) {
            await stream.send({ event: "tick", id: String(i), data: { i } });
            await sleep(20);
          }
        } catch (err) {
          cancelled(err);
          throw err;
        }
      }, { heartbeat: 10 });
    await withServer(app, {}, async (port) => {
      const conn = await client(port);
      await conn.write(get("/events"));
      let text = "";
      while (!text.includes("id: 2")) text += new TextDecoder().decode((await conn.read())!);
      assert(text.includes("content-type: text/event-stream"));
      assert(text.includes('event: tick\nid: 0\ndata: {"i":0}\n\n'));
      conn.close();
      const err = await wasCancelled;
      assert(
        err instanceof Cancelled || (err as { code?: string }).code !== undefined,
        String(err),
      );
    });
  }),
);

Deno.test(
  "http: graceful shutdown loses no in-flight request",
  noLeaks(async () => {
    let started = 0;
    const app = async (req: import("../src/http/mod.ts").HttpRequest) => {
      started++;
      await sleep(Number(req.query.get("ms") ?? 0));
      return json({ ok: req.path });
    };
    await withServer(app, {}, async (port, server) => {
      // One idle keep-alive connection, three slow in-flight requests.
      const idle = await client(port);
      await idle.write(get("/first"));
      await idle.read();
      const inflight = [100, 200, 300].map((ms) => rawExchange(port, get(`/slow?ms=${ms}`)));
      while (started < 4) await sleep(5);
      const done = server.shutdown({ timeout: 5000 });
      assertEquals(await idle.read({ timeout: 2000 }), null); // idle one closed
      idle.close();
      const results = await Promise.all(inflight);
      for (const r of results) {
        const [res] = parseResponses(r.text);
        assertEquals(res.status, 200);
        assertEquals(res.headers.connection, "close");
        assert(r.closed);
      }
      await done;
      assertEquals(server.connections, 0);
    });
  }),
);

Deno.test(
  "http: request objects kept by a handler stay intact after later requests",
  noLeaks(async () => {
    const kept: { path: () => string; header: () => string | null }[] = [];
    await withServer(
      (req) => {
        // Keep the request without touching its lazily parsed parts.
        kept.push({ path: () => req.path, header: () => req.headers.get("x-n") });
        return "ok";
      },
      {},
      async (port) => {
        const conn = await client(port);
        try {
          for (let batch = 0; batch < 20; batch++) {
            const reqs = Array.from({ length: 10 }, (_, i) => {
              const n = batch * 10 + i;
              return `GET /item/${n}?pad=${
                "x".repeat(n % 37)
              } HTTP/1.1\r\nHost: x\r\nX-N: ${n}\r\n\r\n`;
            }).join("");
            await conn.write(reqs);
            let got = "";
            while ((got.match(/HTTP\/1\.1 200/g)?.length ?? 0) < 10) {
              got += new TextDecoder().decode((await conn.read({ timeout: 5000 }))!);
            }
          }
        } finally {
          conn.close();
        }
      },
    );
    assertEquals(kept.length, 200);
    kept.forEach((r, n) => {
      assertEquals(r.path(), `/item/${n}`);
      assertEquals(r.header(), String(n));
    });
  }),
);

Deno.test(
  "http: synchronous handlers run in their connection's task across keep-alive requests",
  noLeaks(async () => {
    const tasks: unknown[] = [];
    await withServer(
      (req) => {
        const task = current()!;
        tasks.push(task);
        // Cancelling the connection's task from inside a handler ends the connection.
        if (req.path === "/cancel") task.cancel();
        return json({ id: task.id });
      },
      {},
      async (port) => {
        const conn = await client(port);
        try {
          for (let i = 0; i < 5; i++) {
            await conn.write(`GET /n HTTP/1.1\r\nHost: x\r\n\r\n`);
            const text = new TextDecoder().decode((await conn.read({ timeout: 5000 }))!);
            assertEquals(statusOf(text), 200);
          }
          await conn.write(`GET /cancel HTTP/1.1\r\nHost: x\r\n\r\n`);
          let rest = "";
          for (let c; (c = await conn.read({ timeout: 5000 })) !== null;) {
            rest += new TextDecoder().decode(c);
          }
          assert(!rest.includes("HTTP/1.1 5"), rest);
        } finally {
          conn.close();
        }
      },
    );
    assertEquals(tasks.length, 6);
    assert(tasks.every((t) => t === tasks[0]), "one task per connection");
    assertEquals((tasks[0] as { name: string }).name, "http connection");
  }),
);

Deno.test(
  "http: a response held up by a slow reader outlives the keep-alive idle timeout",
  noLeaks(async () => {
    const body = "x".repeat(16 * 1024);
    await withServer(() => body, { idleTimeout: 300 }, async (port) => {
      const conn = await client(port);
      try {
        // One request at a time, never reading: the responses fill the
        // socket buffers until a write has to wait for the reader, longer
        // than the idle timeout.
        const count = 400;
        for (let i = 0; i < count; i++) {
          await conn.write(`GET /${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
          await sleep(1);
        }
        await sleep(800);
        const status = "HTTP/1.1 200";
        let got = 0, carry = "";
        while (got < count) {
          const chunk = await conn.read({ timeout: 5000 });
          assert(chunk !== null, `connection closed after ${got} responses`);
          const text = carry + new TextDecoder().decode(chunk);
          for (let i = text.indexOf(status); i >= 0; i = text.indexOf(status, i + 1)) got++;
          carry = text.slice(-(status.length - 1));
        }
        assertEquals(got, count);
      } finally {
        conn.close();
      }
    });
  }),
);

Deno.test(
  "http: timers and Deno-native I/O keep running while keep-alive requests are served",
  noLeaks(async () => {
    await withServer(() => "ok", {}, async (port) => {
      let stop = false, served = 0;
      const load = Array.from({ length: 4 }, () =>
        spawn(async () => {
          // Clients on the server's own backend, so the load shares its loop.
          const c = await connect("127.0.0.1", port);
          try {
            while (!stop) {
              await c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
              let text = "";
              while (!text.endsWith("\r\n\r\nok")) {
                text += new TextDecoder().decode((await c.read({ timeout: 5000 }))!);
              }
              served++;
            }
          } finally {
            c.close();
          }
        }));
      await sleep(20);
      // A zero-delay timer and a round trip over Deno's own sockets complete
      // while the load goes on (the load only stops after them).
      assertEquals(await new Promise((r) => setTimeout(() => r("fired"), 0)), "fired");
      const native = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const nc = await Deno.connect({ hostname: "127.0.0.1", port: native.addr.port });
      const ns = await native.accept();
      await nc.write(new Uint8Array([42]));
      assertEquals(await ns.read(new Uint8Array(1)), 1);
      nc.close();
      ns.close();
      native.close();
      stop = true;
      await Promise.all(load);
      assert(served > 0);
    });
  }),
);

Deno.test(
  "http: a header object changed between responses, and targets of one length, are answered as they are now",
  noLeaks(async () => {
    const shared: Record<string, string> = { server: "a" };
    const steps: Array<(h: Record<string, string>) => void> = [
      () => {},
      (h) => h.server = "b",
      (h) => h["x-extra"] = "1",
      (h) => delete h.server,
      (h) => h.server = "c",
    ];
    let turn = 0;
    await withServer(
      (req) => {
        steps[turn++](shared);
        return respond(req.target, { headers: shared });
      },
      {},
      async (port) => {
        // Pipelined, so the responses are made one after another on one connection.
        const paths = ["/aa", "/ab", "/ba", "/bb", "/aa"];
        const reqs = paths.map((p, i) =>
          get(p, i === paths.length - 1 ? "Connection: close\r\n" : "")
        ).join("");
        const rs = parseResponses((await rawExchange(port, reqs)).text);
        assertEquals(rs.map((r) => r.body), paths);
        assertEquals(rs.map((r) => r.headers.server), ["a", "b", "b", undefined, "c"]);
        assertEquals(rs.map((r) => r.headers["x-extra"]), [undefined, undefined, "1", "1", "1"]);
      },
    );
  }),
);

Deno.test(
  "http: serve() given no handler, App or workers settings is refused with a clear TypeError",
  noLeaks(async () => {
    const { serve } = await import("../src/http/mod.ts");
    for (const [app, shown] of [[null, "null"], [42, "number"], [{ port: 0 }, "object"]] as const) {
      const err = await serve(app as never, { port: 0 }).then(() => undefined, (e) => e);
      assert(err instanceof TypeError, String(err));
      assertEquals(
        err.message,
        "http: serve() takes a handler function, an App (an object with handle()) or " +
          `{ workers, module }, got ${shown}`,
      );
    }
  }),
);

Deno.test("http: Router refuses a route or middleware it could not serve, when it is added", () => {
  const handler = () => "x";
  const cases: [() => unknown, string][] = [
    [() => new Router().get(null as never, handler), "route pattern must be a string, got null"],
    [() => new Router().get("no-slash", handler), 'route pattern must start with "/": no-slash'],
    [() => new Router().get("/a/*/b", handler), '"*" must be the last segment: /a/*/b'],
    [() => new Router().get("/a/:", handler), "route parameter without a name: /a/:"],
    [
      () => new Router().get("/a/:id/b/:id", handler),
      'route parameter "id" appears twice: /a/:id/b/:id',
    ],
    [
      () => new Router().get("/a", null as never),
      "route handler for GET /a must be a function, got null",
    ],
    [() => new Router().on(42 as never, "/a", handler), "route method must be a string, got 42"],
    [() => new Router().use(null as never), "middleware must be a function, got null"],
  ];
  for (const [add, message] of cases) {
    let err: unknown;
    try {
      add();
    } catch (e) {
      err = e;
    }
    assert(err instanceof TypeError, `${message}: ${err}`);
    assertEquals(err.message, message);
  }
});

Deno.test(
  "http: a response status outside 200-599 is refused with a RangeError; the handler's client gets a 500",
  noLeaks(async () => {
    for (const status of [100, 101, 103, 199, 600, 999, 1000, 200.5, NaN]) {
      assertThrows(
        () => respond("x", { status }),
        (err: unknown) =>
          err instanceof RangeError &&
          err.message === `http: a response status is an integer from 200 to 599, got ${status}`,
        String(status),
      );
    }
    for (const status of [200, 204, 304, 418, 599]) {
      assertEquals(respond(null, { status }).status, status);
    }
    let errors = 0;
    await withServer(
      (req) => respond("body", { status: Number(req.target.slice(1)) }),
      { onError: () => void errors++ },
      async (port) => {
        // Pipelined: a 1xx sent as the final response would leave the next one unframed.
        const reqs = get("/103") + get("/101") + get("/600") + get("/200", "Connection: close\r\n");
        const rs = parseResponses((await rawExchange(port, reqs)).text);
        assertEquals(rs.map((r) => r.status), [500, 500, 500, 200]);
        assertEquals(rs[3].body, "body");
      },
    );
    assertEquals(errors, 3);
  }),
);

/**
 * The readiness fast path of a connection (src/http/_arrivals.ts):
 * requests that arrive while the connection is idle are served where they
 * are noticed when each completes at once, and everything else (a body to
 * read, a handler that waits, a partial head, a shutdown) is handed back
 * to the serving loop without losing order or bytes. Real sockets; run on
 * both backends.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { current } from "../src/_wait.ts";
import { sleep } from "../src/sleep.ts";
import type { Conn } from "../src/socket.ts";
import { type HttpRequest, serve } from "../src/http/mod.ts";
import { client, parseResponses, readResponses, withServer } from "./http_helpers.ts";
import { noLeaks } from "./leak.ts";

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

// Sends `request` on an idle keep-alive connection and reads `count` responses.
async function exchange(conn: Conn, request: string, count: number) {
  // Let the connection go idle first, so the bytes arrive during its idle wait.
  await sleep(20);
  await conn.write(request);
  const { text } = await readResponses(conn, count);
  return parseResponses(text);
}

Deno.test(
  "http arrivals: requests pipelined into an idle connection are answered in order, in the connection's task",
  noLeaks(async () => {
    const tasks = new Set<unknown>();
    await withServer(
      (req: HttpRequest) => {
        tasks.add(current());
        ok(req.signal instanceof AbortSignal);
        return req.path;
      },
      {},
      async (port) => {
        const conn = await client(port);
        try {
          const paths = ["/1", "/2", "/3", "/4", "/5"];
          for (let round = 0; round < 3; round++) {
            const res = await exchange(conn, paths.map(get).join(""), paths.length);
            deepEqual(res.map((r) => r.body), paths);
          }
        } finally {
          conn.close();
        }
      },
    );
    equal(tasks.size, 1);
    ok(!tasks.has(undefined));
  }),
);

Deno.test(
  "http arrivals: a request with a body, and a handler that waits, are handed to the loop in order",
  noLeaks(async () => {
    await withServer(
      async (req) => {
        if (req.method === "POST") return `posted ${await req.text()}`;
        if (req.path === "/slow") await sleep(10);
        return req.path;
      },
      {},
      async (port) => {
        const conn = await client(port);
        try {
          const request = get("/a") +
            "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
            get("/b") + get("/slow") + get("/c");
          for (let round = 0; round < 2; round++) {
            const res = await exchange(conn, request, 5);
            deepEqual(res.map((r) => r.body), ["/a", "posted hello", "/b", "/slow", "/c"]);
          }
        } finally {
          conn.close();
        }
      },
    );
  }),
);

Deno.test(
  "http arrivals: a head that arrives in pieces while idle is completed by the loop",
  noLeaks(async () => {
    await withServer((req) => req.headers.get("x-part") ?? "none", {}, async (port) => {
      const conn = await client(port);
      try {
        deepEqual((await exchange(conn, get("/first"), 1)).map((r) => r.body), ["none"]);
        await sleep(20);
        await conn.write("\r\nGET /second HTTP/1.1\r\nHo");
        await sleep(20);
        await conn.write("st: x\r\nX-Part: joined\r\n\r\n" + get("/third"));
        const { text } = await readResponses(conn, 2);
        deepEqual(parseResponses(text).map((r) => r.body), ["joined", "none"]);
      } finally {
        conn.close();
      }
    });
  }),
);

Deno.test(
  "http arrivals: an idle connection served by the fast path still ends at its idle timeout",
  noLeaks(async () => {
    await withServer(() => "ok", { idleTimeout: 150 }, async (port) => {
      const conn = await client(port);
      try {
        deepEqual((await exchange(conn, get("/") + get("/"), 2)).map((r) => r.status), [200, 200]);
        const started = Date.now();
        equal(await conn.read({ timeout: 3000 }), null);
        const took = Date.now() - started;
        ok(took >= 100 && took < 2000, `closed after ${took} ms`);
      } finally {
        conn.close();
      }
    });
  }),
);

Deno.test(
  "http arrivals: once a shutdown begins, requests still queued get no more keep-alive",
  noLeaks(async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => release = resolve);
    const server = await serve(async (req) => {
      if (req.path === "/hold") await held;
      return req.path;
    }, { port: 0 });
    const conn = await client(server.addr.port!);
    try {
      await conn.write(get("/hold") + get("/after"));
      await sleep(50);
      const stopping = server.shutdown({ timeout: 2000 });
      release();
      const { text, closed } = await readResponses(conn, Infinity);
      const res = parseResponses(text);
      equal(res[0].body, "/hold");
      equal(res[0].headers.connection, "close");
      ok(closed);
      await stopping;
    } finally {
      conn.close();
      await server.shutdown();
    }
  }),
);

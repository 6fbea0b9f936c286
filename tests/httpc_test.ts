import assert from "node:assert/strict";
import { Cancelled, ConnectionRefused, ProtocolError, spawn, TimeoutError } from "../mod.ts";
import * as httpc from "../src/httpc.ts";
import { noLeaks } from "./leak.ts";
import { rawPeer } from "./net_helpers.ts";

const MiB = 1024 * 1024;

/** Routes of the local test server; `state` records what the server saw. */
function handler(state: { bigSent: number; bigCancelled: boolean }) {
  return async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const path = url.pathname;
    if (path === "/hello") return new Response("hello", { headers: { "x-test": "1" } });
    if (path.startsWith("/status/")) {
      return new Response("status", { status: Number(path.slice(8)) });
    }
    if (path === "/echo") {
      return Response.json({
        method: req.method,
        body: await req.text(),
        headers: Object.fromEntries(req.headers),
      });
    }
    if (path === "/json-empty") return new Response(null, { status: 204 });
    if (path === "/not-json") return new Response("<html>", { status: 500 });
    if (path.startsWith("/hop/")) {
      const n = Number(path.slice(5));
      if (n === 0) return new Response(`landed ${req.method}`);
      return new Response(null, { status: 302, headers: { location: `/hop/${n - 1}` } });
    }
    if (path === "/see-other") {
      return new Response(null, { status: 303, headers: { location: "/echo" } });
    }
    if (path === "/temporary") {
      return new Response(null, { status: 307, headers: { location: "/echo" } });
    }
    if (path === "/away") {
      return new Response(null, {
        status: 302,
        headers: { location: url.searchParams.get("to")! },
      });
    }
    if (path === "/stall-body") {
      return new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode("first"));
          },
        }),
      );
    }
    if (path === "/big") {
      // 64 MiB in 64 KiB chunks, produced on demand; far more than the 10 MiB cap.
      const chunk = new Uint8Array(64 * 1024);
      return new Response(
        new ReadableStream({
          pull(c) {
            if (state.bigSent >= 64 * MiB) return c.close();
            state.bigSent += chunk.byteLength;
            c.enqueue(chunk);
          },
          cancel() {
            state.bigCancelled = true;
          },
        }, { highWaterMark: 0 }),
      );
    }
    if (path === "/declared") {
      return new Response(new Uint8Array(2 * MiB));
    }
    if (path === "/chunks") {
      let i = 0;
      return new Response(
        new ReadableStream({
          async pull(c) {
            if (i === 5) return c.close();
            await new Promise((r) => setTimeout(r, 1));
            c.enqueue(new TextEncoder().encode(`part${i++};`));
          },
        }),
      );
    }
    return new Response("not found", { status: 404 });
  };
}

interface Served {
  base: string;
  port: number;
  state: { bigSent: number; bigCancelled: boolean };
  close(): Promise<void>;
}

function serve(tls?: { cert: string; key: string }): Served {
  const state = { bigSent: 0, bigCancelled: false };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, ...tls },
    handler(state),
  );
  const port = server.addr.port;
  return {
    base: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    port,
    state,
    close: () => server.shutdown(),
  };
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
}

interface Pki {
  ca: string;
  cert: string;
  key: string;
  /** A leaf signed by another, untrusted CA. */
  rogueCert: string;
  rogueKey: string;
}

/** A test CA, a server certificate for 127.0.0.1 it signed, and one it did not. */
async function makePki(): Promise<Pki> {
  const dir = await Deno.makeTempDir({ prefix: "lunet_httpc_" });
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    await Deno.writeTextFile(
      `${dir}/leaf.ext`,
      "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
        "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n",
    );
    for (const name of ["ca", "rogue_ca"]) {
      await openssl(
        dir,
        "req",
        "-x509",
        ...ec,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.pem`,
        "-days",
        "1",
        "-subj",
        `/CN=lunet ${name}`,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      );
    }
    for (const [leaf, ca] of [["leaf", "ca"], ["rogue", "rogue_ca"]]) {
      await openssl(
        dir,
        "req",
        ...ec,
        "-keyout",
        `${leaf}.key`,
        "-out",
        `${leaf}.csr`,
        "-subj",
        "/CN=localhost",
      );
      await openssl(
        dir,
        "x509",
        "-req",
        "-in",
        `${leaf}.csr`,
        "-CA",
        `${ca}.pem`,
        "-CAkey",
        `${ca}.key`,
        "-CAcreateserial",
        "-out",
        `${leaf}.pem`,
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
      );
    }
    const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
    return {
      ca: await read("ca.pem"),
      cert: await read("leaf.pem"),
      key: await read("leaf.key"),
      rogueCert: await read("rogue.pem"),
      rogueKey: await read("rogue.key"),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test(
  "httpc over plain HTTP",
  noLeaks(async (t) => {
    const srv = serve();
    try {
      await t.step("GET returns status, headers, body and url", async () => {
        const res = await httpc.get(`${srv.base}/hello`);
        assert.equal(res.status, 200);
        assert.equal(res.ok, true);
        assert.equal(res.headers.get("x-test"), "1");
        assert.equal(res.text(), "hello");
        assert.equal(res.url, `${srv.base}/hello`);
      });

      await t.step("4xx and 5xx are ordinary responses", async () => {
        for (const status of [404, 418, 500, 503]) {
          const res = await httpc.request({ url: `${srv.base}/status/${status}` });
          assert.equal(res.status, status);
          assert.equal(res.ok, false);
          assert.equal(res.text(), "status");
        }
      });

      await t.step("POST sends method, headers and body", async () => {
        const res = await httpc.post(`${srv.base}/echo`, "payload", {
          headers: { "x-custom": "abc" },
        });
        const seen = res.json<{ method: string; body: string; headers: Record<string, string> }>();
        assert.equal(seen.method, "POST");
        assert.equal(seen.body, "payload");
        assert.equal(seen.headers["x-custom"], "abc");
      });

      await t.step("binary and streamed request bodies", async () => {
        const bytes = await httpc.request({
          url: `${srv.base}/echo`,
          method: "put",
          body: new TextEncoder().encode("bin"),
        });
        assert.deepEqual(bytes.json(), { ...bytes.json() as object, method: "PUT", body: "bin" });
        const streamed = await httpc.post(
          `${srv.base}/echo`,
          ReadableStream.from(["a", "b"]).pipeThrough(new TextEncoderStream()),
        );
        assert.equal(streamed.json<{ body: string }>().body, "ab");
      });

      await t.step("json helper sends and parses JSON", async () => {
        const res = await httpc.requestJson<
          { method: string; body: string; headers: Record<string, string> }
        >(
          `${srv.base}/echo`,
          { q: 1 },
        );
        assert.equal(res.status, 200);
        assert.equal(res.data?.method, "POST");
        assert.deepEqual(JSON.parse(res.data!.body), { q: 1 });
        assert.equal(res.data?.headers["content-type"], "application/json");
        assert.equal(res.data?.headers["accept"], "application/json");
        const plain = await httpc.requestJson(`${srv.base}/echo`);
        assert.equal((plain.data as { method: string }).method, "GET");
        assert.equal((await httpc.requestJson(`${srv.base}/json-empty`)).data, undefined);
        await assert.rejects(httpc.requestJson(`${srv.base}/not-json`), ProtocolError);
      });

      await t.step("streaming variant yields chunks", async () => {
        const res = await httpc.stream({ url: `${srv.base}/chunks` });
        assert.equal(res.status, 200);
        let text = "";
        for await (const chunk of res) text += new TextDecoder().decode(chunk);
        assert.equal(text, "part0;part1;part2;part3;part4;");
        const again = await httpc.stream({ url: `${srv.base}/chunks` });
        assert.equal(new TextDecoder().decode(await again.bytes()), text);
      });

      await t.step("connection refused is a ConnectionRefused error", async () => {
        const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const port = listener.addr.port;
        listener.close();
        await assert.rejects(httpc.get(`http://127.0.0.1:${port}/`), (err: Error) => {
          assert.ok(err instanceof ConnectionRefused);
          assert.match(err.message, /^GET http:\/\/127\.0\.0\.1:\d+\/: connection refused$/);
          return true;
        });
      });

      await t.step("non-http schemes are refused", async () => {
        await assert.rejects(httpc.get("ftp://127.0.0.1/"), TypeError);
      });
    } finally {
      await srv.close();
    }
  }),
);

Deno.test(
  "httpc redirects",
  noLeaks(async (t) => {
    const srv = serve();
    const other = serve();
    try {
      await t.step("followed up to the limit", async () => {
        const res = await httpc.get(`${srv.base}/hop/3`);
        assert.equal(res.status, 200);
        assert.equal(res.text(), "landed GET");
        assert.equal(res.url, `${srv.base}/hop/0`);
        const limited = await httpc.get(`${srv.base}/hop/3`, { maxRedirects: 3 });
        assert.equal(limited.text(), "landed GET");
      });

      await t.step("too many redirects is a ProtocolError", async () => {
        await assert.rejects(httpc.get(`${srv.base}/hop/4`, { maxRedirects: 3 }), (err: Error) => {
          assert.ok(err instanceof ProtocolError);
          assert.match(err.message, /more than 3 redirects/);
          return true;
        });
      });

      await t.step("maxRedirects 0 returns the 3xx", async () => {
        const res = await httpc.get(`${srv.base}/hop/1`, { maxRedirects: 0 });
        assert.equal(res.status, 302);
        assert.equal(res.headers.get("location"), "/hop/0");
      });

      await t.step("303 turns POST into GET; 307 resends the body", async () => {
        const seeOther = await httpc.post(`${srv.base}/see-other`, "data");
        assert.deepEqual(
          [seeOther.json<{ method: string }>().method, seeOther.json<{ body: string }>().body],
          ["GET", ""],
        );
        const temporary = await httpc.post(`${srv.base}/temporary`, "data");
        assert.deepEqual(
          [temporary.json<{ method: string }>().method, temporary.json<{ body: string }>().body],
          ["POST", "data"],
        );
      });

      await t.step("credentials are dropped on a cross-origin redirect", async () => {
        const headers = { authorization: "Bearer secret", "x-keep": "yes" };
        const same = await httpc.get(`${srv.base}/away?to=${srv.base}/echo`, { headers });
        assert.equal(
          same.json<{ headers: Record<string, string> }>().headers.authorization,
          "Bearer secret",
        );
        const cross = await httpc.get(`${srv.base}/away?to=${other.base}/echo`, { headers });
        const seen = cross.json<{ headers: Record<string, string> }>().headers;
        assert.equal(seen.authorization, undefined);
        assert.equal(seen["x-keep"], "yes");
        assert.equal(cross.url, `${other.base}/echo`);
      });
    } finally {
      await srv.close();
      await other.close();
    }
  }),
);

Deno.test(
  "httpc timeouts, cancellation and body limits",
  noLeaks(async (t) => {
    const srv = serve();
    const stall = rawPeer();
    const stallUrl = `http://127.0.0.1:${stall.port}/stall`;
    try {
      await t.step("a stalled server times out and the request is aborted", async () => {
        await assert.rejects(httpc.get(stallUrl, { timeout: 100 }), (err: Error) => {
          assert.ok(err instanceof TimeoutError);
          assert.match(err.message, /^GET http:\/\/127\.0\.0\.1:\d+\/stall: timed out$/);
          return true;
        });
      });

      await t.step("a body that stalls after the head times out", async () => {
        await assert.rejects(httpc.get(`${srv.base}/stall-body`, { timeout: 100 }), TimeoutError);
      });

      await t.step("an absolute deadline works like a timeout", async () => {
        await assert.rejects(
          httpc.get(stallUrl, { deadline: Date.now() + 100, timeout: Infinity }),
          TimeoutError,
        );
      });

      await t.step("a wait already over fails at once and nothing fails later", async () => {
        await assert.rejects(httpc.get(stallUrl, { deadline: Date.now() - 1 }), TimeoutError);
        await assert.rejects(httpc.get(stallUrl, { signal: AbortSignal.abort() }), Cancelled);
        await new Promise((r) => setTimeout(r, 50)); // the aborted fetch settles here, handled
      });

      await t.step("cancelling the task aborts the request", async () => {
        const before = stall.accepted() - stall.open();
        const task = spawn(() => httpc.get(stallUrl));
        setTimeout(() => task.cancel(), 50);
        await assert.rejects(Promise.resolve(task), Cancelled);
        for (let i = 0; i < 100 && (stall.accepted() - stall.open()) === before; i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(
          stall.accepted() - stall.open(),
          before + 1,
          "the server saw the connection dropped",
        );
      });

      await t.step("an abort signal cancels the request", async () => {
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 50);
        await assert.rejects(httpc.get(stallUrl, { signal: controller.signal }), Cancelled);
      });

      await t.step("a stream read that times out loses nothing", async () => {
        const res = await httpc.stream({ url: `${srv.base}/chunks` });
        const parts: string[] = [];
        for (;;) {
          const chunk = await res.read({ timeout: 0.5 }).catch((err) => {
            if (err instanceof TimeoutError) return undefined;
            throw err;
          });
          if (chunk === null) break;
          if (chunk) parts.push(new TextDecoder().decode(chunk));
        }
        assert.equal(parts.join(""), "part0;part1;part2;part3;part4;");
        res.close();
      });

      await t.step("closing a stream closes its connection at once, every time", async () => {
        // A server that never ends its stream sees the client's close only
        // when the socket goes; another request finishing meanwhile once
        // left the stream's socket open now and then.
        const peer = rawPeer((chunk) => {
          const head = new TextDecoder().decode(chunk);
          if (head.startsWith("GET ")) {
            return { reply: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n" };
          }
          if (head.startsWith("POST ")) return { reply: "HTTP/1.1 204 No Content\r\n\r\n" };
        });
        const base = `http://127.0.0.1:${peer.port}`;
        try {
          for (let i = 0; i < 150; i++) {
            const res = await httpc.stream({ url: `${base}/events` });
            assert.equal(new TextDecoder().decode((await res.read({ timeout: 5_000 }))!), "first");
            assert.equal((await httpc.post(`${base}/other`, "x")).status, 204);
            const open = peer.open();
            res.close();
            for (let wait = 0; wait < 100 && peer.open() >= open; wait++) {
              await new Promise((r) => setTimeout(r, 10));
            }
            assert.ok(peer.open() < open, `stream ${i}: its socket stayed open after close()`);
          }
        } finally {
          await peer.close();
        }
      });

      await t.step("a refused body closes its connection at once", async () => {
        const peer = rawPeer((chunk) => {
          const head = new TextDecoder().decode(chunk);
          if (head.startsWith("GET /declared")) {
            return { reply: "HTTP/1.1 200 OK\r\ncontent-length: 2000\r\n\r\nstart" };
          }
          if (head.startsWith("GET /chunked")) {
            return {
              reply: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n400\r\n" +
                "x".repeat(1024) + "\r\n",
            };
          }
        });
        const base = `http://127.0.0.1:${peer.port}`;
        try {
          for (const path of ["/declared", "/chunked"]) {
            const settled = peer.open();
            await assert.rejects(
              httpc.get(`${base}${path}`, { maxBodyBytes: 1000 }),
              ProtocolError,
            );
            for (let wait = 0; wait < 100 && peer.open() > settled; wait++) {
              await new Promise((r) => setTimeout(r, 10));
            }
            assert.equal(peer.open(), settled, `${path}: the socket stayed open`);
          }
        } finally {
          await peer.close();
        }
      });

      await t.step("a body over maxBodyBytes fails while streaming", async () => {
        await assert.rejects(httpc.get(`${srv.base}/big`), (err: Error) => {
          assert.ok(err instanceof ProtocolError);
          assert.match(err.message, /larger than maxBodyBytes \(10485760\)/);
          return true;
        });
        for (let i = 0; i < 100 && !srv.state.bigCancelled; i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.ok(srv.state.bigCancelled, "the server's stream was cancelled");
        assert.ok(srv.state.bigSent < 32 * MiB, `server produced ${srv.state.bigSent} bytes`);
      });

      await t.step("a declared Content-Length over the limit fails before reading", async () => {
        await assert.rejects(
          httpc.get(`${srv.base}/declared`, { maxBodyBytes: MiB }),
          ProtocolError,
        );
        const ok = await httpc.get(`${srv.base}/declared`, { maxBodyBytes: 2 * MiB });
        assert.equal(ok.body.byteLength, 2 * MiB);
      });

      await t.step("the stream variant honours maxBodyBytes when given", async () => {
        const res = await httpc.stream({ url: `${srv.base}/big`, maxBodyBytes: MiB });
        await assert.rejects(res.bytes(), ProtocolError);
      });
    } finally {
      await srv.close();
      await stall.close();
    }
  }),
);

Deno.test(
  "httpc over HTTPS with a test CA",
  noLeaks(async (t) => {
    const pki = await makePki();
    const good = serve({ cert: pki.cert, key: pki.key });
    const rogue = serve({ cert: pki.rogueCert, key: pki.rogueKey });
    try {
      await t.step("an unknown CA is refused by default", async () => {
        await assert.rejects(httpc.get(`${good.base}/hello`), (err: Error) => {
          assert.ok(err instanceof ProtocolError);
          assert.match(err.message, /^GET https:\/\/127\.0\.0\.1:\d+\/hello: TLS: /);
          return true;
        });
      });

      await t.step("caCerts makes the test CA trusted", async () => {
        const res = await httpc.get(`${good.base}/hello`, { caCerts: [pki.ca] });
        assert.equal(res.text(), "hello");
        const viaName = await httpc.get(`https://localhost:${good.port}/hello`, {
          caCerts: [pki.ca],
        });
        assert.equal(viaName.status, 200);
      });

      await t.step("a certificate from another CA is refused unless insecure", async () => {
        await assert.rejects(
          httpc.get(`${rogue.base}/hello`, { caCerts: [pki.ca] }),
          ProtocolError,
        );
        const res = await httpc.get(`${rogue.base}/hello`, { insecure: true });
        assert.equal(res.status, 200);
        assert.equal(res.text(), "hello");
        assert.equal(res.headers.get("x-test"), "1");
      });

      await t.step("insecure requests post bodies, stream and time out too", async () => {
        const echoed = await httpc.post(`${rogue.base}/echo`, "secret", { insecure: true });
        assert.equal(echoed.json<{ body: string }>().body, "secret");
        await assert.rejects(
          httpc.get(`${rogue.base}/stall-body`, { insecure: true, timeout: 100 }),
          TimeoutError,
        );
        await assert.rejects(httpc.get(`${rogue.base}/big`, { insecure: true }), ProtocolError);
      });

      await t.step("LUNET_HTTPC_INSECURE=1 turns verification off with a warning", async () => {
        const code = `import { get } from ${
          JSON.stringify(new URL("../src/httpc.ts", import.meta.url).href)
        };
        const res = await get(${JSON.stringify(`${rogue.base}/hello`)});
        console.log(res.status, res.text());`;
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["eval", code],
          env: { LUNET_HTTPC_INSECURE: "1", NO_COLOR: "1" },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.success, true, stderr);
        assert.equal(new TextDecoder().decode(out.stdout).trim(), "200 hello");
        assert.match(stderr, /LUNET_HTTPC_INSECURE=1: TLS certificates are not verified/);
      });
    } finally {
      await good.close();
      await rogue.close();
    }
  }),
);

Deno.test(
  "httpc: a malformed or cut-short response is a ProtocolError naming the request",
  noLeaks(async () => {
    const head = "HTTP/1.1 200 OK\r\n";
    const replies: Record<string, string> = {
      "/short": `${head}content-length: 100\r\n\r\n0123456789`,
      "/chunk": `${head}transfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
      "/nul": `${head}x-a: a\0b\r\ncontent-length: 2\r\n\r\nok`,
      "/status": "HTTP/1.1 2000 OK\r\ncontent-length: 2\r\n\r\nok",
      "/garbage": "garbage\r\n\r\n",
      "/lengths": `${head}content-length: 2\r\ncontent-length: 3\r\n\r\nok!`,
      "/scheme": "HTTP/1.1 302 Found\r\nlocation: file:///etc/passwd\r\ncontent-length: 0\r\n\r\n",
      "/location": "HTTP/1.1 302 Found\r\nlocation: http://[x\r\ncontent-length: 0\r\n\r\n",
    };
    const server = rawPeer((request) => {
      const path = new TextDecoder().decode(request).split(" ")[1];
      return { reply: replies[path], end: true };
    });
    const base = `http://127.0.0.1:${server.port}`;
    try {
      for (const path of Object.keys(replies)) {
        const url = `${base}${path}`;
        const err = await httpc.request({ url, timeout: 5_000 }).then(() => undefined, (e) => e);
        assert(err instanceof ProtocolError, `${path}: ${err}`);
        assert(err.message.startsWith(`GET ${url}: `), `${path}: ${err.message}`);
      }
    } finally {
      await server.close();
    }
  }),
);

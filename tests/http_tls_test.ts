/**
 * HTTPS serving: `serve(app, { cert, key })` over Deno's TLS, ALPN,
 * handshakes that fail or stall, certificate reload without dropping open
 * connections, workers, shutdown and compression over TLS.
 */
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { sleep } from "../mod.ts";
import { json, serve, type Server, sse } from "../src/http/mod.ts";
import { connect } from "../src/socket.ts";
import { connectTls } from "../src/tls.ts";
import { noLeaks } from "./leak.ts";
import { runCommand } from "./process_helpers.ts";

const dir = new URL("./fixtures/tls/", import.meta.url).pathname;
const CA = Deno.readTextFileSync(`${dir}ca.pem`);
const LEAF = { certFile: `${dir}leaf.pem`, keyFile: `${dir}leaf.key` };
const FIXTURE = new URL("./fixtures/http_app.ts", import.meta.url).href;
const dec = new TextDecoder();

function app(req: { path: string }) {
  if (req.path === "/big") return json({ rows: Array.from({ length: 2000 }, (_, i) => i) });
  if (req.path === "/slow") return sleep(300).then(() => ({ slow: true }));
  if (req.path === "/events") {
    return sse(async (s) => {
      for (let i = 0; i < 2; i++) await s.send(String(i));
    }, { heartbeat: 0 });
  }
  return { path: req.path };
}

const run = runCommand;

// A fresh CA and a `localhost` certificate it signed, made with openssl.
async function makeCertificate(tmp: string): Promise<{ ca: string; cert: string; key: string }> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  let r = await run("openssl", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    `${tmp}/ca.key`,
    "-out",
    `${tmp}/ca.pem`,
    "-days",
    "2",
    "-subj",
    "/CN=reload CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign",
  ]);
  assert.equal(r.code, 0, r.err);
  r = await run("openssl", [
    "req",
    ...ec,
    "-keyout",
    `${tmp}/leaf.key`,
    "-out",
    `${tmp}/leaf.csr`,
    "-subj",
    "/CN=localhost",
  ]);
  assert.equal(r.code, 0, r.err);
  await Deno.writeTextFile(`${tmp}/ext`, "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  r = await run("openssl", [
    "x509",
    "-req",
    "-in",
    `${tmp}/leaf.csr`,
    "-CA",
    `${tmp}/ca.pem`,
    "-CAkey",
    `${tmp}/ca.key`,
    "-CAcreateserial",
    "-out",
    `${tmp}/leaf.pem`,
    "-days",
    "2",
    "-extfile",
    `${tmp}/ext`,
  ]);
  assert.equal(r.code, 0, r.err);
  return {
    ca: await Deno.readTextFile(`${tmp}/ca.pem`),
    cert: await Deno.readTextFile(`${tmp}/leaf.pem`),
    key: await Deno.readTextFile(`${tmp}/leaf.key`),
  };
}

// One keep-alive request on a TLS connection; the parsed JSON body.
async function ask(conn: Awaited<ReturnType<typeof connectTls>>, path: string): Promise<unknown> {
  await conn.write(`GET ${path} HTTP/1.1\r\nhost: localhost\r\n\r\n`);
  let text = "";
  for (;;) {
    const got = await conn.read({ timeout: 5000 });
    assert.ok(got !== null, "connection ended");
    text += dec.decode(got);
    const end = text.indexOf("\r\n\r\n");
    if (end === -1) continue;
    const length = Number(/content-length: (\d+)/i.exec(text)![1]);
    if (text.length >= end + 4 + length) return JSON.parse(text.slice(end + 4, end + 4 + length));
  }
}

function client(ca: string): Deno.HttpClient {
  return Deno.createHttpClient({ caCerts: [ca] });
}

Deno.test(
  "https: serves over TLS with ALPN http/1.1 to fetch, curl and openssl",
  noLeaks(async (t) => {
    const server = await serve(app, { port: 0, ...LEAF, shutdownOnSignal: false });
    const port = server.addr.port!;
    const http = client(CA);
    try {
      await t.step("fetch, keep-alive", async () => {
        for (let i = 0; i < 3; i++) {
          const res = await fetch(`https://localhost:${port}/x${i}`, { client: http });
          assert.deepEqual(await res.json(), { path: `/x${i}` });
        }
      });
      await t.step("curl negotiates http/1.1 and decodes compressed bodies", async () => {
        const r = await run("curl", [
          "-s",
          "--compressed",
          "--cacert",
          `${dir}ca.pem`,
          "-w",
          "\n%{http_version}",
          `https://localhost:${port}/big`,
        ]);
        assert.equal(r.code, 0, r.err);
        const [body, version] = r.out.split("\n");
        assert.equal(JSON.parse(body).rows.length, 2000);
        assert.equal(version, "1.1");
      });
      await t.step("ALPN: a client offering h2 and http/1.1 gets http/1.1", async () => {
        const r = await run("bash", [
          "-c",
          `echo | openssl s_client -connect 127.0.0.1:${port} -alpn h2,http/1.1 2>/dev/null`,
        ]);
        assert.match(r.out, /ALPN protocol: http\/1\.1/);
      });
      await t.step("compressed bodies and event streams over TLS", async () => {
        const conn = await connectTls("localhost", port, { caCerts: [CA] });
        await conn.write(
          "GET /big HTTP/1.1\r\nhost: x\r\naccept-encoding: gzip\r\nconnection: close\r\n\r\n",
        );
        const parts: Uint8Array[] = [];
        for (let c; (c = await conn.read({ timeout: 5000 })) !== null;) parts.push(c);
        conn.close();
        const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let o = 0;
        for (const p of parts) all.set(p, (o += p.length) - p.length);
        const text = dec.decode(all);
        assert.match(text, /content-encoding: gzip/);
        const start = text.indexOf("\r\n\r\n") + 4;
        const body = zlib.gunzipSync(
          all.subarray(new TextEncoder().encode(text.slice(0, start)).length),
        );
        assert.equal(JSON.parse(dec.decode(body)).rows.length, 2000);
        const events = await fetch(`https://localhost:${port}/events`, { client: http });
        assert.equal(await events.text(), "data: 0\n\ndata: 1\n\n");
      });
    } finally {
      http.close();
      await server.shutdown();
    }
  }),
);

Deno.test(
  "https: bad and stalled handshakes are closed and never stop the server",
  noLeaks(async (t) => {
    const server = await serve(app, {
      port: 0,
      ...LEAF,
      headerTimeout: 500,
      shutdownOnSignal: false,
    });
    const port = server.addr.port!;
    const http = client(CA);
    try {
      await t.step("a plain-HTTP request gets a close, not a hang", async () => {
        const conn = await connect("127.0.0.1", port);
        const started = Date.now();
        await conn.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
        // Whatever rustls answers (an alert at most), the connection ends.
        while ((await conn.read({ timeout: 3000 })) !== null);
        conn.close();
        assert.ok(Date.now() - started < 1000);
        const r = await run("curl", ["-s", "-m", "3", `http://127.0.0.1:${port}/`]);
        assert.notEqual(r.code, 28, "curl timed out");
      });
      await t.step("a client that does not trust the certificate", async () => {
        await assert.rejects(() => connectTls("localhost", port, { timeout: 3000 }));
        const r = await run("curl", ["-s", "-m", "3", `https://localhost:${port}/`]);
        assert.equal(r.code, 60);
      });
      await t.step(
        "a client that never sends its hello is dropped after headerTimeout",
        async () => {
          // Deno keeps the socket of a TLS handshake it was told to abandon
          // until the peer sends something; from then on it is closed.
          const conn = await connect("127.0.0.1", port);
          try {
            await sleep(700);
            await conn.write(new Uint8Array([22, 3, 1, 0, 5, 1, 0, 0, 1, 0]));
            const end = await conn.read({ timeout: 2000 }).then(
              async (got) => got === null || (await conn.read({ timeout: 2000 })) === null,
              (err) => err.code === "reset" || err.name === "ConnectionReset",
            );
            assert.ok(end, "the stalled connection was not closed");
          } finally {
            conn.close();
          }
        },
      );
      await t.step("garbage after a partial hello", async () => {
        const conn = await connect("127.0.0.1", port);
        await conn.write(new Uint8Array([22, 3, 1, 0, 5, 1, 0, 0, 1, 0, 0xff, 0xff]));
        while ((await conn.read({ timeout: 3000 })) !== null);
        conn.close();
      });
      await t.step("the server still serves", async () => {
        const res = await fetch(`https://localhost:${port}/ok`, { client: http });
        assert.deepEqual(await res.json(), { path: "/ok" });
      });
    } finally {
      http.close();
      await server.shutdown();
    }
  }),
);

Deno.test(
  "https: setCertificates serves new connections with the new certificate, open ones keep going",
  noLeaks(async () => {
    const tmp = await Deno.makeTempDir();
    const server = await serve(app, { port: 0, ...LEAF, shutdownOnSignal: false });
    const port = server.addr.port!;
    try {
      const fresh = await makeCertificate(tmp);
      const open = await connectTls("localhost", port, { caCerts: [CA] });
      assert.deepEqual(await ask(open, "/before"), { path: "/before" });
      await assert.rejects(() => server.setCertificates({ cert: "nonsense", key: "nonsense" }));
      assert.deepEqual(await ask(open, "/still-old"), { path: "/still-old" });
      await server.setCertificates({ certFile: `${tmp}/leaf.pem`, keyFile: `${tmp}/leaf.key` });
      // The connection opened before the switch is served on.
      assert.deepEqual(await ask(open, "/after"), { path: "/after" });
      open.close();
      // New connections get the new certificate: the new CA verifies it,
      // the old one no longer does.
      const next = await connectTls("localhost", port, { caCerts: [fresh.ca] });
      assert.deepEqual(await ask(next, "/new"), { path: "/new" });
      next.close();
      await assert.rejects(() => connectTls("localhost", port, { caCerts: [CA], timeout: 3000 }));
      // Back to the first one, from PEM text.
      await server.setCertificates({
        cert: Deno.readTextFileSync(LEAF.certFile),
        key: Deno.readTextFileSync(LEAF.keyFile),
      });
      const again = await connectTls("localhost", port, { caCerts: [CA] });
      assert.deepEqual(await ask(again, "/again"), { path: "/again" });
      again.close();
    } finally {
      await server.shutdown();
      await Deno.remove(tmp, { recursive: true });
    }
  }),
);

Deno.test(
  "https: options are checked before anything listens",
  noLeaks(async () => {
    await assert.rejects(() => serve(app, { port: 0, certFile: LEAF.certFile }), TypeError);
    await assert.rejects(
      () =>
        serve(app, {
          port: 0,
          certs: [{ hostname: "localhost", ...LEAF }, { hostname: "other.example", ...LEAF }],
        }),
      /SNI/,
    );
    await assert.rejects(() => serve(app, { port: 0, ...LEAF, path: "/tmp/x.sock" }), TypeError);
    await assert.rejects(() => serve(app, { port: 0, certFile: "/no/such.pem", keyFile: "/no/k" }));
    const plain = await serve(app, { port: 0, shutdownOnSignal: false });
    await assert.rejects(() => plain.setCertificates(LEAF), TypeError);
    await plain.shutdown();
    const one = await serve(app, {
      port: 0,
      certs: [{ hostname: "localhost", ...LEAF }],
      shutdownOnSignal: false,
    });
    const conn = await connectTls("localhost", one.addr.port!, { caCerts: [CA] });
    assert.deepEqual(await ask(conn, "/one"), { path: "/one" });
    conn.close();
    await one.shutdown();
  }),
);

Deno.test(
  "https: graceful shutdown lets an in-flight request finish",
  noLeaks(async () => {
    const server: Server = await serve(app, { port: 0, ...LEAF, shutdownOnSignal: false });
    const http = client(CA);
    try {
      const slow = fetch(`https://localhost:${server.addr.port}/slow`, { client: http });
      await sleep(100);
      const done = server.shutdown({ timeout: 5000 });
      const res = await slow;
      assert.equal(res.headers.get("connection"), "close");
      assert.deepEqual(await res.json(), { slow: true });
      await done;
    } finally {
      http.close();
    }
  }),
);

Deno.test({
  name: "https: serve({ workers, cert, key }) serves HTTPS from every worker",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: noLeaks(async () => {
    const server = await serve({
      workers: 2,
      port: 0,
      module: FIXTURE,
      ...LEAF,
      idleTimeout: 1000,
      shutdownOnSignal: false,
    });
    const seen = new Set<string>();
    try {
      for (let i = 0; i < 40 && seen.size < 2; i++) {
        const conn = await connectTls("localhost", server.addr.port!, { caCerts: [CA] });
        const got = await ask(conn, "/w") as { worker: string; path: string };
        conn.close();
        assert.equal(got.path, "/w");
        seen.add(got.worker);
      }
      assert.equal(seen.size, 2, [...seen].join(","));
      await server.setCertificates(LEAF);
      await sleep(100);
      const conn = await connectTls("localhost", server.addr.port!, { caCerts: [CA] });
      assert.equal(((await ask(conn, "/r")) as { path: string }).path, "/r");
      conn.close();
    } finally {
      await server.shutdown();
    }
  }),
});

Deno.test(
  "https: clients that close without close_notify end quietly (no failure is reported)",
  noLeaks(async () => {
    const server = await serve(app, { port: 0, ...LEAF, shutdownOnSignal: false });
    const logged: string[] = [];
    const error = console.error;
    console.error = (...args: unknown[]) => logged.push(args.map(String).join(" "));
    try {
      // wrk (like most load tools and browsers) drops its connections
      // without a TLS close_notify.
      const r = await run("wrk", ["-t1", "-c4", "-d1s", `https://127.0.0.1:${server.addr.port}/`]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /Requests\/sec/);
      await sleep(200);
    } finally {
      console.error = error;
      await server.shutdown();
    }
    assert.deepEqual(logged, []);
  }),
);

/**
 * HTTP/2 against real peers: curl (prior knowledge, `Upgrade: h2c`, TLS
 * with ALPN), nghttp (100 concurrent streams on one connection, request
 * trailers), h2load, and Deno's own `fetch` as an HTTP/2 client over TLS;
 * large bodies both ways, SSE, HTTP/1.1 on the same port.
 */
import assert from "node:assert/strict";
import { serve, type Server, sse } from "../src/http/mod.ts";
import type { HttpRequest } from "../src/http/request.ts";
import { noLeaks } from "./leak.ts";
import { runCommand } from "./process_helpers.ts";

const dir = new URL("./fixtures/tls/", import.meta.url).pathname;
const CA = `${dir}ca.pem`;
const LEAF = { certFile: `${dir}leaf.pem`, keyFile: `${dir}leaf.key` };
const BIG = 3 * 1024 * 1024;

async function app(req: HttpRequest) {
  if (req.method === "POST") {
    const body = await req.bytes();
    let sum = 0;
    for (const b of body) sum = (sum + b) % 65521;
    return { length: body.length, sum, trailers: req.body.trailers };
  }
  if (req.path === "/big") return new Uint8Array(BIG).fill(97);
  if (req.path === "/events") {
    return sse(async (s) => {
      for (let i = 0; i < 3; i++) await s.send(String(i));
    }, { heartbeat: 0 });
  }
  return { path: req.path, host: req.headers.get("host"), version: req.version };
}

const run = runCommand;

async function withServers(fn: (h2c: Server, tls: Server) => Promise<void>): Promise<void> {
  const h2c = await serve(app, { port: 0, http2: "h2c", shutdownOnSignal: false, compress: false });
  const tls = await serve(app, {
    port: 0,
    http2: true,
    ...LEAF,
    shutdownOnSignal: false,
    compress: false,
  });
  try {
    await fn(h2c, tls);
  } finally {
    await h2c.shutdown();
    await tls.shutdown();
  }
}

Deno.test(
  "HTTP/2 with curl, nghttp, h2load and Deno's fetch",
  noLeaks(async (t) => {
    await withServers(async (h2c, tls) => {
      const plain = `http://127.0.0.1:${h2c.addr.port}`;
      const secure = `https://localhost:${tls.addr.port}`;
      const tmp = await Deno.makeTempDir();
      try {
        const upload = new Uint8Array(BIG);
        for (let i = 0; i < upload.length; i++) upload[i] = (i * 7) & 0xff;
        await Deno.writeFile(`${tmp}/up.bin`, upload);
        let sum = 0;
        for (const b of upload) sum = (sum + b) % 65521;

        await t.step("curl, prior knowledge: GET, and HTTP/1.1 on the same port", async () => {
          const r = await run("curl", [
            "-s",
            "--http2-prior-knowledge",
            `${plain}/a`,
            "-w",
            " %{http_version}",
          ]);
          assert.equal(
            r.out,
            `{"path":"/a","host":"127.0.0.1:${h2c.addr.port}","version":"HTTP/2"} 2`,
          );
          const h1 = await run("curl", ["-s", "--http1.1", `${plain}/b`, "-w", " %{http_version}"]);
          assert.match(h1.out, /"path":"\/b".*"version":"HTTP\/1\.1"} 1\.1$/);
        });
        await t.step("curl, Upgrade: h2c", async () => {
          const r = await run("curl", ["-s", "--http2", `${plain}/up`, "-w", " %{http_version}"]);
          assert.match(r.out, /"path":"\/up".* 2$/);
        });
        await t.step("curl over TLS: ALPN h2, or http/1.1 when asked", async () => {
          const r = await run("curl", [
            "-s",
            "--http2",
            "--cacert",
            CA,
            `${secure}/t`,
            "-w",
            " %{http_version}",
          ]);
          assert.match(r.out, /"path":"\/t".* 2$/);
          const h1 = await run("curl", [
            "-s",
            "--http1.1",
            "--cacert",
            CA,
            `${secure}/t`,
            "-w",
            " %{http_version}",
          ]);
          assert.match(h1.out, / 1\.1$/);
        });
        await t.step("curl: large bodies both ways", async () => {
          const down = await run("curl", [
            "-s",
            "--http2-prior-knowledge",
            `${plain}/big`,
            "-o",
            `${tmp}/big`,
            "-w",
            "%{size_download}",
          ]);
          assert.equal(down.out, String(BIG));
          const up = await run("curl", [
            "-s",
            "--http2-prior-knowledge",
            "--data-binary",
            `@${tmp}/up.bin`,
            `${plain}/post`,
          ]);
          assert.deepEqual(JSON.parse(up.out), { length: BIG, sum, trailers: [] });
          const tlsUp = await run("curl", [
            "-s",
            "--http2",
            "--cacert",
            CA,
            "--data-binary",
            `@${tmp}/up.bin`,
            `${secure}/post`,
          ]);
          assert.deepEqual(JSON.parse(tlsUp.out), { length: BIG, sum, trailers: [] });
        });
        await t.step("curl: SSE over HTTP/2", async () => {
          const r = await run("curl", ["-s", "--http2-prior-knowledge", `${plain}/events`]);
          assert.equal(r.out, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
        });
        await t.step("nghttp: 100 concurrent streams on one connection", async () => {
          const urls = Array.from({ length: 100 }, (_, i) => `${plain}/s${i}`);
          const r = await run("nghttp", ["-n", "-s", "-m", "1", ...urls]);
          assert.equal(r.code, 0, r.err);
          const rows = r.out.split("\n").filter((l) => / 200 /.test(l) || /\/s\d+/.test(l));
          assert.equal(rows.filter((l) => /\/s\d+/.test(l)).length, 100, r.out);
        });
        await t.step("nghttp: a request body with trailers", async () => {
          await Deno.writeTextFile(`${tmp}/small`, "hello");
          const r = await run("nghttp", [
            "-d",
            `${tmp}/small`,
            "--trailer=x-sum: 42",
            `${plain}/post`,
          ]);
          assert.equal(r.code, 0, r.err);
          assert.deepEqual(JSON.parse(r.out), { length: 5, sum: 532, trailers: [["x-sum", "42"]] });
        });
        await t.step(
          "h2load: 2000 requests, 10 connections, 10 streams each, cleartext and TLS",
          async () => {
            for (const url of [`${plain}/`, `https://127.0.0.1:${tls.addr.port}/`]) {
              const r = await run("h2load", ["-n", "2000", "-c", "10", "-m", "10", url]);
              assert.match(r.out, /2000 succeeded, 0 failed, 0 errored/, r.out);
              assert.match(r.out, /status codes: 2000 2xx/);
            }
          },
        );
        await t.step("Deno's fetch as an HTTP/2 client over TLS", async () => {
          const client = Deno.createHttpClient({
            caCerts: [await Deno.readTextFile(CA)],
            http2: true,
            http1: false,
          });
          try {
            const got = await Promise.all(
              Array.from(
                { length: 20 },
                (_, i) => fetch(`${secure}/f${i}`, { client }).then((r) => r.json()),
              ),
            );
            assert.deepEqual(
              got.map((g) => g.path),
              Array.from({ length: 20 }, (_, i) => `/f${i}`),
            );
            const res = await fetch(`${secure}/post`, { client, method: "POST", body: upload });
            assert.deepEqual(await res.json(), { length: BIG, sum, trailers: [] });
            const big = await fetch(`${secure}/big`, { client });
            assert.equal((await big.bytes()).length, BIG);
          } finally {
            client.close();
          }
        });
      } finally {
        await Deno.remove(tmp, { recursive: true });
      }
    });
  }),
);

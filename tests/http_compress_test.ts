import assert from "node:assert/strict";
import zlib from "node:zlib";
import { json, PushBody, respond, serve, sse, text } from "../src/http/mod.ts";
import { negotiate } from "../src/http/_encoding.ts";
import { connect } from "../src/socket.ts";
import { sleep } from "../mod.ts";
import { noLeaks } from "./leak.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One response read raw off the wire: the exact bytes of its body (chunked coding removed). */
interface Wire {
  status: number;
  headers: Map<string, string>;
  body: Uint8Array;
  /** When each chunk of a chunked body arrived (ms since the request). */
  chunkTimes: number[];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function wire(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<Wire> {
  const conn = await connect("127.0.0.1", port);
  const start = Date.now();
  try {
    let head = `${method} ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    await conn.write(head + "\r\n");
    let buf: Uint8Array = new Uint8Array(0);
    const times: number[] = [];
    const more = async () => {
      const got = await conn.read({ timeout: 10_000 });
      if (got === null) return false;
      times.push(Date.now() - start);
      buf = concat([buf, got]);
      return true;
    };
    let end = -1;
    while ((end = dec.decode(buf).indexOf("\r\n\r\n")) === -1) assert.ok(await more());
    const lines = dec.decode(buf.subarray(0, end)).split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const map = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const i = l.indexOf(":");
      map.set(l.slice(0, i).toLowerCase(), l.slice(i + 1).trim());
    }
    let rest = buf.subarray(end + 4);
    buf = rest;
    if (method === "HEAD" || status === 304 || status === 204) {
      return { status, headers: map, body: new Uint8Array(0), chunkTimes: [] };
    }
    if (map.get("transfer-encoding") === "chunked") {
      const parts: Uint8Array[] = [];
      const chunkTimes: number[] = [];
      for (;;) {
        let nl;
        while ((nl = dec.decode(buf).indexOf("\r\n")) === -1) assert.ok(await more());
        const size = parseInt(dec.decode(buf.subarray(0, nl)), 16);
        while (buf.length < nl + 2 + size + 2) assert.ok(await more());
        if (size === 0) break;
        parts.push(buf.slice(nl + 2, nl + 2 + size));
        chunkTimes.push(times.at(-1) ?? 0);
        buf = buf.subarray(nl + 2 + size + 2);
      }
      return { status, headers: map, body: concat(parts), chunkTimes };
    }
    while (await more());
    rest = buf;
    return { status, headers: map, body: rest, chunkTimes: [] };
  } finally {
    conn.close();
  }
}

// A plain Uint8Array view of a node Buffer (strict deepEqual tells them apart).
function u8(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

function decode(coding: string | undefined, body: Uint8Array): Uint8Array {
  if (coding === "gzip") return u8(zlib.gunzipSync(body));
  if (coding === "br") return u8(zlib.brotliDecompressSync(body));
  if (coding === "zstd") return u8(zlib.zstdDecompressSync(body));
  assert.equal(coding, undefined);
  return body;
}

// A JSON document of about 40 KiB, and 200 KiB of mixed bytes as text.
const DOC = {
  rows: Array.from({ length: 800 }, (_, i) => ({ id: i, name: `row ${i}`, ok: i % 3 })),
};
const BLOB = (() => {
  const b = new Uint8Array(200 * 1024);
  let x = 1;
  for (let i = 0; i < b.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = (x >>> 24) % 4 === 0 ? x & 0xff : 97 + (i % 26);
  }
  return b;
})();

function app(req: { path: string; method: string }) {
  switch (req.path) {
    case "/json":
      return json(DOC);
    case "/small":
      return json({ ok: true });
    case "/bytes":
      return respond(BLOB, { headers: { "content-type": "text/plain" } });
    case "/png":
      return respond(BLOB, { headers: { "content-type": "image/png" } });
    case "/encoded":
      return respond(zlib.gzipSync(BLOB), {
        headers: { "content-type": "text/plain", "content-encoding": "gzip" },
      });
    case "/no-transform":
      return respond(BLOB, {
        headers: { "content-type": "text/plain", "cache-control": "public, no-transform" },
      });
    case "/partial":
      return respond(BLOB.subarray(0, 4096), {
        status: 206,
        headers: { "content-type": "text/plain", "content-range": "bytes 0-4095/204800" },
      });
    case "/etag":
      return respond(BLOB, {
        headers: { "content-type": "text/plain", etag: '"abc"', vary: "origin" },
      });
    case "/stream":
      return respond(
        (async function* () {
          for (let off = 0; off < BLOB.length; off += 7000) yield BLOB.subarray(off, off + 7000);
        })(),
        { headers: { "content-type": "text/plain" } },
      );
    case "/push":
      return respond(
        new PushBody(async (write) => {
          for (let off = 0; off < BLOB.length; off += 5000) {
            await write(BLOB.subarray(off, off + 5000));
          }
        }),
        { headers: { "content-type": "application/x-ndjson" } },
      );
    case "/fetch":
      return new Response(BLOB, { headers: { "content-type": "text/plain" } });
    case "/sse":
      return sse(async (s) => {
        for (let i = 0; i < 3; i++) {
          await s.send({ id: String(i), data: { i } });
          await sleep(150);
        }
      }, { heartbeat: 0 });
    default:
      return text("x".repeat(4000));
  }
}

Deno.test("compress: Accept-Encoding negotiation (q-values, identity, *)", () => {
  const all = ["zstd", "br", "gzip"] as const;
  assert.equal(negotiate(null, all), "");
  assert.equal(negotiate("", all), "");
  assert.equal(negotiate("gzip", all), "gzip");
  assert.equal(negotiate("x-gzip", all), "gzip");
  assert.equal(negotiate("gzip, deflate, br, zstd", all), "zstd");
  assert.equal(negotiate("gzip, deflate, br", all), "br");
  assert.equal(negotiate("gzip;q=1.0, br;q=0.5", all), "gzip");
  assert.equal(negotiate("br;q=0, gzip;q=0.1", all), "gzip");
  assert.equal(negotiate("identity", all), "");
  assert.equal(negotiate("identity;q=0", all), "");
  assert.equal(negotiate("*", all), "zstd");
  assert.equal(negotiate("*;q=0", all), "");
  assert.equal(negotiate("zstd;q=0, *", all), "br");
  assert.equal(negotiate("GZIP;Q=0.8", all), "gzip");
  assert.equal(negotiate("gzip;q=2", all), "", "a malformed q-value counts as 0");
  assert.equal(negotiate("deflate, compress", all), "");
  assert.equal(negotiate("gzip, br", ["gzip", "br"]), "gzip", "ties go to the server's order");
});

Deno.test(
  "compress: every coding round-trips byte for byte, fixed and streamed",
  noLeaks(async (t) => {
    const server = await serve(app, { port: 0, shutdownOnSignal: false });
    const port = server.addr.port!;
    try {
      for (const coding of ["gzip", "br", "zstd"]) {
        await t.step(coding, async () => {
          for (
            const [path, want] of [
              ["/json", enc.encode(JSON.stringify(DOC))],
              ["/bytes", BLOB],
              ["/stream", BLOB],
              ["/push", BLOB],
              ["/fetch", BLOB],
            ] as const
          ) {
            const res = await wire(port, path, { "accept-encoding": coding });
            assert.equal(res.status, 200);
            assert.equal(res.headers.get("content-encoding"), coding, path);
            assert.equal(res.headers.get("vary"), "accept-encoding", path);
            assert.ok(res.body.length < want.length / 2, `${path}: ${res.body.length} bytes`);
            assert.deepEqual(decode(coding, res.body), want, path);
          }
        });
      }
    } finally {
      await server.shutdown();
    }
  }),
);

Deno.test(
  "compress: what is left alone",
  noLeaks(async (t) => {
    const server = await serve(app, { port: 0, shutdownOnSignal: false });
    const port = server.addr.port!;
    const ae = { "accept-encoding": "gzip, br, zstd" };
    try {
      await t.step("a body under the threshold, without Vary", async () => {
        const res = await wire(port, "/small", ae);
        assert.equal(res.headers.get("content-encoding"), undefined);
        assert.equal(res.headers.get("vary"), undefined);
        assert.equal(dec.decode(res.body), '{"ok":true}');
      });
      await t.step("a type that is not text-like", async () => {
        const res = await wire(port, "/png", ae);
        assert.equal(res.headers.get("content-encoding"), undefined);
        assert.deepEqual(res.body, BLOB);
      });
      await t.step("an already encoded body", async () => {
        const res = await wire(port, "/encoded", ae);
        assert.equal(res.headers.get("content-encoding"), "gzip");
        assert.deepEqual(u8(zlib.gunzipSync(res.body)), BLOB);
      });
      await t.step("Cache-Control: no-transform", async () => {
        const res = await wire(port, "/no-transform", ae);
        assert.equal(res.headers.get("content-encoding"), undefined);
        assert.deepEqual(res.body, BLOB);
      });
      await t.step("a partial response", async () => {
        const res = await wire(port, "/partial", ae);
        assert.equal(res.status, 206);
        assert.equal(res.headers.get("content-encoding"), undefined);
        assert.equal(res.body.length, 4096);
      });
      await t.step("HEAD", async () => {
        const res = await wire(port, "/json", ae, "HEAD");
        assert.equal(res.headers.get("content-encoding"), undefined);
        assert.equal(res.headers.get("content-length"), String(JSON.stringify(DOC).length));
      });
      await t.step("a client that accepts no coding still gets Vary", async () => {
        for (const accept of [undefined, "identity", "deflate", "*;q=0"]) {
          const res = await wire(
            port,
            "/json",
            accept === undefined ? {} : { "accept-encoding": accept },
          );
          assert.equal(res.headers.get("content-encoding"), undefined, String(accept));
          assert.equal(res.headers.get("vary"), "accept-encoding", String(accept));
          assert.equal(dec.decode(res.body), JSON.stringify(DOC));
        }
      });
      await t.step("Vary is merged and a strong ETag turns weak", async () => {
        const res = await wire(port, "/etag", { "accept-encoding": "br" });
        assert.equal(res.headers.get("vary"), "origin, accept-encoding");
        assert.equal(res.headers.get("etag"), 'W/"abc"');
        const plain = await wire(port, "/etag");
        assert.equal(plain.headers.get("etag"), '"abc"');
      });
    } finally {
      await server.shutdown();
    }
  }),
);

Deno.test(
  "compress: options (off, threshold, encodings, types) are checked and applied",
  noLeaks(async () => {
    await assert.rejects(() => serve(app, { port: 0, compress: { threshold: -1 } }), RangeError);
    await assert.rejects(
      () => serve(app, { port: 0, compress: { encodings: ["deflate" as "gzip"] } }),
      TypeError,
    );
    const off = await serve(app, { port: 0, compress: false, shutdownOnSignal: false });
    const tuned = await serve(app, {
      port: 0,
      shutdownOnSignal: false,
      compress: { threshold: 5, encodings: ["gzip"], types: (t) => t.startsWith("image/") },
    });
    try {
      const a = await wire(off.addr.port!, "/json", { "accept-encoding": "gzip" });
      assert.equal(a.headers.get("content-encoding"), undefined);
      const b = await wire(tuned.addr.port!, "/png", { "accept-encoding": "br, gzip" });
      assert.equal(b.headers.get("content-encoding"), "gzip");
      assert.deepEqual(u8(zlib.gunzipSync(b.body)), BLOB);
      const c = await wire(tuned.addr.port!, "/json", { "accept-encoding": "gzip" });
      assert.equal(c.headers.get("content-encoding"), undefined);
    } finally {
      await off.shutdown();
      await tuned.shutdown();
    }
  }),
);

Deno.test(
  "compress: each Server-Sent Event is flushed as it is sent",
  noLeaks(async (t) => {
    const server = await serve(app, { port: 0, shutdownOnSignal: false });
    const port = server.addr.port!;
    try {
      for (const coding of ["gzip", "br", "zstd"]) {
        await t.step(coding, async () => {
          const res = await wire(port, "/sse", { "accept-encoding": coding });
          assert.equal(res.headers.get("content-encoding"), coding);
          const events = dec.decode(decode(coding, res.body));
          assert.equal(events, [0, 1, 2].map((i) => `id: ${i}\ndata: {"i":${i}}\n\n`).join(""));
          // Three events 150 ms apart arrive in three chunks spread over
          // about 300 ms (the trailer chunk ends it), not in one at the end.
          assert.ok(res.chunkTimes.length >= 3, String(res.chunkTimes));
          assert.ok(res.chunkTimes[2] - res.chunkTimes[0] >= 200, String(res.chunkTimes));
        });
      }
    } finally {
      await server.shutdown();
    }
  }),
);

Deno.test(
  "compress: curl --compressed and fetch decode what the server sends",
  noLeaks(async (t) => {
    const server = await serve(app, { port: 0, shutdownOnSignal: false });
    const base = `http://127.0.0.1:${server.addr.port}`;
    try {
      await t.step("curl --compressed", async () => {
        for (const path of ["/json", "/stream", "/sse"]) {
          const out = await new Deno.Command("curl", {
            args: ["-s", "--compressed", "-D", "/dev/stderr", `${base}${path}`],
          }).output();
          assert.equal(out.code, 0);
          const head = dec.decode(out.stderr).toLowerCase();
          assert.match(head, /content-encoding: (gzip|br|zstd)/, path);
          const body = out.stdout;
          if (path === "/json") assert.equal(dec.decode(body), JSON.stringify(DOC));
          else if (path === "/stream") assert.deepEqual(body, BLOB);
          else assert.match(dec.decode(body), /id: 2\ndata: \{"i":2\}/);
        }
      });
      await t.step("fetch", async () => {
        for (const accept of ["gzip", "br"]) {
          const res = await fetch(`${base}/json`, { headers: { "accept-encoding": accept } });
          assert.equal(res.headers.get("content-encoding"), accept);
          assert.deepEqual(await res.json(), DOC);
        }
        const res = await fetch(`${base}/stream`);
        assert.deepEqual(new Uint8Array(await res.arrayBuffer()), BLOB);
      });
    } finally {
      await server.shutdown();
    }
  }),
);

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "compress: headless Chromium decodes every coding it asks for",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: noLeaks(async () => {
    const server = await serve(app, { port: 0, shutdownOnSignal: false });
    // deno-lint-ignore no-import-prefix
    const { chromium } = await import("npm:playwright-core@^1");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    try {
      const page = await browser.newPage();
      const codings: string[] = [];
      page.on("response", (r) => {
        const c = r.headers()["content-encoding"];
        if (c) codings.push(c);
      });
      await page.goto(`http://127.0.0.1:${server.addr.port}/page`);
      const result = await page.evaluate(async () => {
        const doc = await (await fetch("/json")).json();
        const blob = new Uint8Array(await (await fetch("/stream")).arrayBuffer());
        const events: string[] = [];
        await new Promise<void>((resolve) => {
          const es = new EventSource("/sse");
          es.onmessage = (e) => {
            events.push(e.data);
            if (events.length === 3) {
              es.close();
              resolve();
            }
          };
        });
        let sum = 0;
        for (const b of blob) sum = (sum * 31 + b) >>> 0;
        return { rows: doc.rows.length, size: blob.length, sum, events };
      });
      await page.close();
      let sum = 0;
      for (const b of BLOB) sum = (sum * 31 + b) >>> 0;
      assert.deepEqual(result, {
        rows: DOC.rows.length,
        size: BLOB.length,
        sum,
        events: ['{"i":0}', '{"i":1}', '{"i":2}'],
      });
      assert.ok(codings.length >= 3, String(codings));
      for (const c of codings) assert.match(c, /^(zstd|br|gzip)$/);
    } finally {
      await browser.close();
      await server.shutdown();
    }
  }),
});

// A fresh process: serves responses that are never compressed (short,
// binary, HEAD), reports whether node:zlib was loaded, then serves its
// first compressible response and reports again, with that response's coding.
// With H2, over HTTP/2 (TLS, ALPN h2) to a fetch client that speaks only h2.
const TLS_DIR = new URL("./fixtures/tls/", import.meta.url).pathname;
const freshChild = (h2: boolean) => `
const H2 = ${h2};
const TLS = ${JSON.stringify(TLS_DIR)};
import { serve, text } from ${JSON.stringify(new URL("../src/http/mod.ts", import.meta.url).href)};
import { zlibLoaded } from ${
  JSON.stringify(new URL("../src/http/_compress.ts", import.meta.url).href)
};
const server = await serve((req) => {
  const path = new URL(req.url).pathname;
  if (path === "/small") return text("hello");
  if (path === "/png") return new Response(new Uint8Array(65536), { headers: { "content-type": "image/png" } });
  return text("x".repeat(65536));
}, H2
  ? { port: 0, shutdownOnSignal: false, http2: true, certFile: TLS + "leaf.pem", keyFile: TLS + "leaf.key" }
  : { port: 0, shutdownOnSignal: false });
const base = (H2 ? "https://localhost:" : "http://127.0.0.1:") + server.addr.port;
const client = H2
  ? Deno.createHttpClient({ caCerts: [Deno.readTextFileSync(TLS + "ca.pem")], http1: false, http2: true })
  : undefined;
const get = (path: string, method = "GET") =>
  fetch(base + path, { method, headers: { "accept-encoding": "gzip" }, client });
for (const path of ["/small", "/png"]) await (await get(path)).arrayBuffer();
await (await get("/big", "HEAD")).arrayBuffer();
const before = zlibLoaded();
const res = await get("/big");
const size = (await res.text()).length;
console.log(JSON.stringify({ before, after: zlibLoaded(), coding: res.headers.get("content-encoding"), size }));
client?.close();
await server.shutdown();
`;

for (const h2 of [false, true]) {
  Deno.test(
    `compress: node:zlib loads with the first compressed response, never before (${
      h2 ? "HTTP/2" : "HTTP/1.1"
    })`,
    async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", "--ext=ts", freshChild(h2)],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      assert.equal(out.code, 0);
      assert.deepEqual(JSON.parse(dec.decode(out.stdout)), {
        before: false,
        after: true,
        coding: "gzip",
        size: 65536,
      });
    },
  );
}

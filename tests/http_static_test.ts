/**
 * Static files: path safety, conditional and range requests (checked
 * against curl and the RFC 9110 examples), precompressed siblings, large
 * and concurrent downloads verified by hash, a client that stops reading,
 * and a file truncated while it is sent.
 */
import assert from "node:assert/strict";
import { serve, serveDir, serveFile, type Server } from "../src/http/mod.ts";
import { connect } from "../src/socket.ts";
import { sleep } from "../mod.ts";
import { noLeaks } from "./leak.ts";

const dec = new TextDecoder();
const BIG = (Deno.env.get("LUNET_STATIC_BIG_MIB") ?? "1024") === "0"
  ? 0
  : Number(Deno.env.get("LUNET_STATIC_BIG_MIB") ?? "1024");

async function sh(cmd: string): Promise<{ code: number; out: string; err: string }> {
  const p = await new Deno.Command("bash", { args: ["-c", cmd], stdin: "null" }).output();
  return { code: p.code, out: dec.decode(p.stdout), err: dec.decode(p.stderr) };
}

// 10 000 bytes whose byte i is the digit of i mod 10 (the RFC 9110 examples use 10 000).
const TEN_K = new TextEncoder().encode(
  Array.from({ length: 10_000 }, (_, i) => String(i % 10)).join(""),
);

async function tree(): Promise<string> {
  const root = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  await Deno.writeFile(`${root}/ten.txt`, TEN_K);
  await Deno.writeTextFile(`${root}/index.html`, "<h1>home</h1>\n");
  await Deno.mkdir(`${root}/sub`);
  await Deno.writeTextFile(`${root}/sub/page.html`, "<p>page</p>\n");
  await Deno.writeTextFile(`${root}/.secret`, "hidden\n");
  await Deno.writeTextFile(`${outside}/escape.txt`, "outside\n");
  await Deno.symlink(`${outside}/escape.txt`, `${root}/link-out.txt`);
  await Deno.symlink(`${root}/ten.txt`, `${root}/link-in.txt`);
  await Deno.symlink(outside, `${root}/dir-out`);
  await Deno.writeTextFile(`${root}/app.js`, "console.log('x');\n".repeat(200));
  assert.equal((await sh(`gzip -k ${root}/app.js`)).code, 0);
  await Deno.writeTextFile(`${root}/app.js.br`, "not really brotli"); // identified by its body
  await Deno.writeFile(`${root}/blob.bin`, crypto.getRandomValues(new Uint8Array(65536)));
  (globalThis as { outside?: string }).outside = outside;
  return root;
}

async function cleanup(root: string): Promise<void> {
  await Deno.remove(root, { recursive: true });
  const outside = (globalThis as { outside?: string }).outside;
  if (outside) await Deno.remove(outside, { recursive: true });
}

async function withStatic(
  fn: (base: string, root: string, server: Server) => Promise<void>,
  opts: Parameters<typeof serveDir>[1] = {},
): Promise<void> {
  const root = await tree();
  const server = await serve(serveDir(root, opts), {
    port: 0,
    shutdownOnSignal: false,
    compress: false,
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, root, server);
  } finally {
    await server.shutdown();
    await cleanup(root);
  }
}

// The status curl sees for a path sent exactly as written.
async function status(base: string, path: string): Promise<number> {
  const r = await sh(`curl -s --path-as-is -o /dev/null -w '%{http_code}' '${base}${path}'`);
  return Number(r.out);
}

Deno.test(
  "static: path traversal attempts are all refused",
  noLeaks(async () => {
    await withStatic(async (base) => {
      const refused: [string, number][] = [
        ["/../../etc/passwd", 400],
        ["/sub/../../etc/passwd", 400],
        ["/%2e%2e/%2e%2e/etc/passwd", 400],
        ["/%2E%2E%2Fetc%2Fpasswd", 400],
        ["/sub/%2e%2e%2f%2e%2e%2fetc/passwd", 400],
        ["/%252e%252e/%252e%252e/etc/passwd", 404],
        ["/..%5c..%5cetc%5cpasswd", 400],
        ["/sub\\..\\ten.txt", 400],
        ["/ten.txt%00.html", 400],
        ["/%c0%ae%c0%ae/etc/passwd", 400],
        ["/.secret", 404],
        ["/%2esecret", 404],
        ["/link-out.txt", 404],
        ["/dir-out/escape.txt", 404],
        ["/./ten.txt", 400],
      ];
      for (const [path, want] of refused) assert.equal(await status(base, path), want, path);
      assert.equal(await status(base, "/link-in.txt"), 200, "a symlink inside the root");
      assert.equal(await status(base, "/ten.txt"), 200);
      // Raw request targets no client would send.
      for (const target of ["/..", "/sub/..", "/%2e%2e"]) {
        const conn = await connect("127.0.0.1", Number(new URL(base).port));
        await conn.write(`GET ${target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
        let text = "";
        for (let c; (c = await conn.read({ timeout: 5000 })) !== null;) text += dec.decode(c);
        conn.close();
        assert.match(text, /^HTTP\/1\.1 400 /, target);
      }
    });
    await withStatic(async (base) => {
      assert.equal(await status(base, "/link-out.txt"), 200);
      assert.equal(await status(base, "/.secret"), 200);
    }, { allowSymlinkEscape: true, dotfiles: true });
  }),
);

Deno.test(
  "static: index.html, directory redirects, listing off by default, methods",
  noLeaks(async () => {
    await withStatic(async (base) => {
      const home = await fetch(`${base}/`);
      assert.equal(home.headers.get("content-type"), "text/html; charset=utf-8");
      assert.equal(await home.text(), "<h1>home</h1>\n");
      const sub = await fetch(`${base}/sub?x=1`, { redirect: "manual" });
      assert.equal(sub.status, 301);
      assert.equal(sub.headers.get("location"), "/sub/?x=1");
      await sub.body?.cancel();
      assert.equal(await status(base, "/sub/"), 404, "no index, no listing");
      const post = await fetch(`${base}/ten.txt`, { method: "POST", body: "x" });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get("allow"), "GET, HEAD");
      await post.body?.cancel();
      const js = await fetch(`${base}/app.js`, { headers: { "accept-encoding": "identity" } });
      assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
      await js.body?.cancel();
    });
    await withStatic(async (base) => {
      const list = await (await fetch(`${base}/`)).text();
      assert.match(list, /href="ten\.txt"/);
      assert.match(list, /href="sub\/"/);
      assert.doesNotMatch(list, /secret/);
    }, { listing: true, index: false });
  }),
);

Deno.test(
  "static: conditional requests (ETag, Last-Modified) and HEAD",
  noLeaks(async () => {
    await withStatic(async (base) => {
      const first = await fetch(`${base}/ten.txt`);
      const etag = first.headers.get("etag")!;
      const modified = first.headers.get("last-modified")!;
      assert.equal(first.headers.get("content-length"), "10000");
      assert.equal(first.headers.get("accept-ranges"), "bytes");
      await first.body?.cancel();
      const ask = async (headers: Record<string, string>, method = "GET") => {
        const res = await fetch(`${base}/ten.txt`, { headers, method });
        const body = await res.text();
        return { status: res.status, body, headers: res.headers };
      };
      assert.equal((await ask({ "if-none-match": etag })).status, 304);
      assert.equal((await ask({ "if-none-match": `"nope", W/${etag}` })).status, 304);
      assert.equal((await ask({ "if-none-match": "*" })).status, 304);
      assert.equal((await ask({ "if-none-match": '"other"' })).status, 200);
      assert.equal((await ask({ "if-modified-since": modified })).status, 304);
      assert.equal(
        (await ask({ "if-modified-since": "Thu, 01 Jan 1970 00:00:00 GMT" })).status,
        200,
      );
      // If-None-Match wins over If-Modified-Since.
      assert.equal(
        (await ask({ "if-none-match": '"other"', "if-modified-since": modified })).status,
        200,
      );
      assert.equal((await ask({ "if-match": '"other"' })).status, 412);
      assert.equal((await ask({ "if-match": etag })).status, 200);
      assert.equal(
        (await ask({ "if-match": `W/${etag}` })).status,
        412,
        "If-Match compares strongly",
      );
      assert.equal(
        (await ask({ "if-unmodified-since": "Thu, 01 Jan 1970 00:00:00 GMT" })).status,
        412,
      );
      const nm = await ask({ "if-none-match": etag });
      assert.equal(nm.headers.get("etag"), etag);
      assert.equal(nm.body, "");
      const head = await ask({}, "HEAD");
      assert.equal(head.status, 200);
      assert.equal(head.headers.get("content-length"), "10000");
      assert.equal(head.body, "");
      // curl's own conditional request (-z: If-Modified-Since from a date).
      const r = await sh(`curl -s -o /dev/null -w '%{http_code}' -z '${modified}' ${base}/ten.txt`);
      assert.equal(r.out, "304");
    });
  }),
);

Deno.test(
  "static: ranges as in RFC 9110 §14, with If-Range, multipart and 416",
  noLeaks(async () => {
    await withStatic(async (base, root) => {
      const one = async (range: string) => {
        const res = await fetch(`${base}/ten.txt`, { headers: { range } });
        return { res, body: await res.text() };
      };
      // RFC 9110 §14.1.2 examples on a 10000-byte representation.
      for (
        const [range, first, last] of [
          ["bytes=0-499", 0, 499],
          ["bytes=500-999", 500, 999],
          ["bytes=-500", 9500, 9999],
          ["bytes=9500-", 9500, 9999],
          ["bytes=0-0", 0, 0],
          ["bytes=-1", 9999, 9999],
          ["bytes=9000-20000", 9000, 9999],
        ] as const
      ) {
        const { res, body } = await one(range);
        assert.equal(res.status, 206, range);
        assert.equal(res.headers.get("content-range"), `bytes ${first}-${last}/10000`, range);
        assert.equal(body, dec.decode(TEN_K.subarray(first, last + 1)), range);
      }
      // Several ranges: multipart/byteranges, each part with its Content-Range.
      const multi = await fetch(`${base}/ten.txt`, { headers: { range: "bytes=0-0,-1" } });
      assert.equal(multi.status, 206);
      const type = multi.headers.get("content-type")!;
      const boundary = /boundary=(\w+)/.exec(type)![1];
      assert.match(type, /^multipart\/byteranges; boundary=/);
      const text = await multi.text();
      assert.equal(
        Number(multi.headers.get("content-length")),
        new TextEncoder().encode(text).length,
      );
      const parts = text.split(`--${boundary}`).slice(1, -1);
      assert.equal(parts.length, 2);
      assert.match(parts[0], /content-range: bytes 0-0\/10000\r\n\r\n0\r\n$/);
      assert.match(parts[1], /content-range: bytes 9999-9999\/10000\r\n\r\n9\r\n$/);
      assert.ok(text.endsWith(`--${boundary}--\r\n`));
      // 416 with the length; invalid or foreign units are ignored (200).
      const past = await one("bytes=10000-");
      assert.equal(past.res.status, 416);
      assert.equal(past.res.headers.get("content-range"), "bytes */10000");
      assert.equal((await one("bytes=5-1")).res.status, 200);
      assert.equal((await one("items=0-1")).res.status, 200);
      // If-Range: the current ETag or date keeps the range, anything else gets 200.
      const etag = (await fetch(`${base}/ten.txt`, { method: "HEAD" })).headers.get("etag")!;
      const ifRange = async (v: string) =>
        (await fetch(`${base}/ten.txt`, { headers: { range: "bytes=0-9", "if-range": v } })).status;
      assert.equal(await ifRange(etag), 206);
      assert.equal(await ifRange('"stale"'), 200);
      assert.equal(await ifRange(`W/${etag}`), 200);
      const modified = (await fetch(`${base}/ten.txt`, { method: "HEAD" })).headers.get(
        "last-modified",
      )!;
      assert.equal(await ifRange(modified), 206);
      assert.equal(await ifRange("Thu, 01 Jan 1970 00:00:00 GMT"), 200);
      // curl -r, byte for byte.
      const r = await sh(
        `curl -s -r 1234-5677 ${base}/ten.txt | cmp - <(tail -c +1235 ${root}/ten.txt | head -c 4444) && echo same`,
      );
      assert.equal(r.out.trim(), "same", r.err);
    });
  }),
);

Deno.test(
  "static: precompressed siblings are served when accepted",
  noLeaks(async () => {
    await withStatic(async (base) => {
      const gz = await sh(
        `curl -s -H 'accept-encoding: gzip' -D /dev/stderr ${base}/app.js | gunzip | head -c 17`,
      );
      assert.equal(gz.out, "console.log('x');");
      assert.match(gz.err.toLowerCase(), /content-encoding: gzip/);
      assert.match(gz.err.toLowerCase(), /vary: accept-encoding/);
      const br = await sh(`curl -s -H 'accept-encoding: br, gzip' ${base}/app.js`);
      assert.equal(br.out, "not really brotli");
      const plain = await sh(`curl -s ${base}/app.js | head -c 17`);
      assert.equal(plain.out, "console.log('x');");
      // A range request gets the identity file.
      const part = await sh(`curl -s -H 'accept-encoding: gzip' -r 0-6 ${base}/app.js`);
      assert.equal(part.out, "console");
    });
  }),
);

Deno.test(
  "static: serveFile, and concurrent downloads verified by hash",
  noLeaks(async () => {
    const dir = await Deno.makeTempDir();
    const file = `${dir}/data.bin`;
    const data = new Uint8Array(16 * 1024 * 1024);
    for (let off = 0; off < data.length; off += 65536) {
      crypto.getRandomValues(data.subarray(off, off + 65536));
    }
    await Deno.writeFile(file, data);
    const server = await serve(
      (req) => serveFile(req, req.path === "/missing" ? `${dir}/no` : file),
      {
        port: 0,
        shutdownOnSignal: false,
      },
    );
    try {
      const base = `http://127.0.0.1:${server.addr.port}`;
      assert.equal(await status(base, "/missing"), 404);
      const want = (await sh(`sha256sum ${file}`)).out.split(" ")[0];
      const r = await sh(
        `for i in $(seq 8); do curl -s ${base}/f | sha256sum & done; wait`,
      );
      const sums = r.out.trim().split("\n").map((l) => l.split(" ")[0]);
      assert.equal(sums.length, 8);
      for (const s of sums) assert.equal(s, want);
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  }),
);

Deno.test({
  name: "static: a 1 GiB file arrives intact (hash)",
  ignore: BIG === 0,
  fn: noLeaks(async () => {
    const dir = await Deno.makeTempDir();
    const file = `${dir}/big.bin`;
    try {
      const r0 = await sh(
        `head -c 16777216 /dev/urandom > ${dir}/seed && for i in $(seq ${
          BIG / 16
        }); do cat ${dir}/seed; done > ${file} && rm ${dir}/seed`,
      );
      assert.equal(r0.code, 0, r0.err);
      const server = await serve(serveDir(dir), { port: 0, shutdownOnSignal: false });
      try {
        const r = await sh(
          `curl -s http://127.0.0.1:${server.addr.port}/big.bin | sha256sum; sha256sum < ${file}`,
        );
        const [got, want] = r.out.trim().split("\n").map((l) => l.split(" ")[0]);
        assert.equal(got, want);
      } finally {
        await server.shutdown();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }),
});

Deno.test(
  "static: a client that stops reading holds the transfer without memory growth; a truncated file ends the response",
  noLeaks(async (t) => {
    const dir = await Deno.makeTempDir();
    const file = `${dir}/slow.bin`;
    await sh(`head -c 268435456 /dev/zero > ${file}`);
    const server = await serve(serveDir(dir), {
      port: 0,
      shutdownOnSignal: false,
      bodyTimeout: 60_000,
    });
    const port = server.addr.port!;
    try {
      await t.step("a stalled reader", async () => {
        const before = Deno.memoryUsage().rss;
        const conn = await connect("127.0.0.1", port);
        await conn.write("GET /slow.bin HTTP/1.1\r\nhost: x\r\n\r\n");
        await conn.read({ timeout: 5000 });
        await sleep(1000); // the server fills the socket buffers and waits
        const grown = Deno.memoryUsage().rss - before;
        assert.ok(grown < 64 * 1024 * 1024, `rss grew by ${grown >> 20} MiB`);
        // It still serves others meanwhile.
        const res = await fetch(`http://127.0.0.1:${port}/slow.bin`, {
          headers: { range: "bytes=0-3" },
        });
        assert.deepEqual(new Uint8Array(await res.arrayBuffer()), new Uint8Array(4));
        conn.close();
      });
      await t.step("a file truncated while sent: the connection closes short", async () => {
        const conn = await connect("127.0.0.1", port);
        await conn.write("GET /slow.bin HTTP/1.1\r\nhost: x\r\n\r\n");
        let got = 0;
        const first = await conn.read({ timeout: 5000 });
        got += first!.length;
        await sleep(200);
        await Deno.truncate(file, 1024 * 1024);
        for (let c; (c = await conn.read({ timeout: 10_000 }).catch(() => null)) !== null;) {
          got += c.length;
        }
        conn.close();
        assert.ok(got < 268435456, `got ${got}`);
        const res = await fetch(`http://127.0.0.1:${port}/slow.bin`);
        assert.equal((await res.arrayBuffer()).byteLength, 1024 * 1024);
      });
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  }),
);

/**
 * lunet/ws against the reference peers, each with and without
 * permessage-deflate: npm `ws` (its client against our server, our client
 * against its server), Deno's built-in WebSocket client, a `wss://`
 * server (Deno.serve over TLS), and headless Chromium loading a page from
 * our server.
 */
import assert from "node:assert/strict";
// The reference peers are pinned here, not in deno.json: only the tests load them.
// deno-lint-ignore no-import-prefix
import { WebSocket as NodeWebSocket, WebSocketServer } from "npm:ws@^8";
import { serve } from "../src/http/mod.ts";
import { accept, connect } from "../src/ws/mod.ts";
import { noLeaks } from "./leak.ts";

const MODES = [false, true];
const BIG = "lunet ".repeat(20000);

function typedEcho(compress: boolean) {
  return serve(async (req) => {
    if (req.path === "/") {
      return new Response(PAGE, { headers: { "content-type": "text/html" } });
    }
    const ws = await accept(req, { compress, pingInterval: 0 });
    for await (const msg of ws) await ws.send(msg);
  }, { port: 0 });
}

Deno.test(
  "ws interop: npm ws client against the lunet server",
  noLeaks(async (t) => {
    for (const compress of MODES) {
      await t.step(`compress: ${compress}`, async () => {
        const server = await typedEcho(compress);
        try {
          const c = new NodeWebSocket(`ws://127.0.0.1:${server.addr.port}/echo`, {
            perMessageDeflate: compress,
          });
          await new Promise((r, j) => (c.once("open", r), c.once("error", j)));
          assert.equal(c.extensions, compress ? "permessage-deflate" : "");
          const got: Array<[string | Uint8Array, boolean]> = [];
          const done = new Promise<void>((r) => {
            c.on("message", (data: Uint8Array, isBinary: boolean) => {
              got.push([isBinary ? new Uint8Array(data) : String(data), isBinary]);
              if (got.length === 4) r();
            });
          });
          c.send("hello");
          c.send(new Uint8Array([0, 1, 2, 255]));
          c.send(BIG);
          c.send("κόσμε");
          await done;
          assert.deepEqual(got, [
            ["hello", false],
            [new Uint8Array([0, 1, 2, 255]), true],
            [BIG, false],
            ["κόσμε", false],
          ]);
          const closed = new Promise<[number, string]>((r) =>
            c.once("close", (code: number, reason: Uint8Array) => r([code, String(reason)]))
          );
          c.close(4000, "bye");
          assert.deepEqual(await closed, [4000, "bye"]);
        } finally {
          await server.shutdown();
        }
      });
    }
  }),
);

Deno.test(
  "ws interop: lunet client against an npm ws server",
  noLeaks(async (t) => {
    for (const compress of MODES) {
      await t.step(`compress: ${compress}`, async () => {
        const wss = new WebSocketServer({
          host: "127.0.0.1",
          port: 0,
          perMessageDeflate: compress,
        });
        await new Promise((r) => wss.once("listening", r));
        const serverClosed = new Promise<number>((resolve) => {
          wss.on("connection", (sock: NodeWebSocket) => {
            sock.on(
              "message",
              (data: Uint8Array, isBinary: boolean) => sock.send(data, { binary: isBinary }),
            );
            sock.on("close", (code: number) => resolve(code));
          });
        });
        const port = (wss.address() as { port: number }).port;
        try {
          const ws = await connect(`ws://127.0.0.1:${port}/`, { compress });
          assert.equal(ws.extensions.startsWith("permessage-deflate"), compress);
          for (const msg of ["hi", new Uint8Array([9, 8, 7]), BIG, BIG, "κόσμε"]) {
            await ws.send(msg);
            assert.deepEqual(await ws.recv({ timeout: 5000 }), msg);
          }
          assert.ok((await ws.ping("x")) >= 0);
          const info = await ws.close(1000, "done");
          assert.deepEqual(info, { code: 1000, reason: "done", wasClean: true });
          assert.equal(await serverClosed, 1000);
        } finally {
          await new Promise((r) => wss.close(r));
        }
      });
    }
  }),
);

Deno.test(
  "ws interop: Deno's WebSocket client against the lunet server",
  noLeaks(async (t) => {
    for (const compress of MODES) {
      await t.step(`compress: ${compress}`, async () => {
        const server = await typedEcho(compress);
        try {
          const c = new WebSocket(`ws://127.0.0.1:${server.addr.port}/echo`);
          c.binaryType = "arraybuffer";
          await new Promise((r, j) => (c.onopen = r, c.onerror = j));
          const got: unknown[] = [];
          const done = new Promise<void>((r) =>
            c.onmessage = (e) => {
              got.push(typeof e.data === "string" ? e.data : new Uint8Array(e.data));
              if (got.length === 3) r();
            }
          );
          c.send("text");
          c.send(new Uint8Array([1, 2, 3]));
          c.send(BIG);
          await done;
          assert.deepEqual(got, ["text", new Uint8Array([1, 2, 3]), BIG]);
          const closed = new Promise<CloseEvent>((r) => c.onclose = r);
          c.close(1000, "ok");
          const ev = await closed;
          assert.equal(ev.code, 1000);
          assert.equal(ev.wasClean, true);
        } finally {
          await server.shutdown();
        }
      });
    }
  }),
);

Deno.test(
  "ws interop: lunet client over wss:// against Deno.serve with TLS",
  noLeaks(async () => {
    const dir = new URL("./fixtures/tls/", import.meta.url).pathname;
    const ca = Deno.readTextFileSync(`${dir}ca.pem`);
    const ac = new AbortController();
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: Deno.readTextFileSync(`${dir}leaf.pem`),
      key: Deno.readTextFileSync(`${dir}leaf.key`),
      signal: ac.signal,
      onListen() {},
    }, (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onmessage = (e) => socket.send(e.data);
      return response;
    });
    try {
      const ws = await connect(`wss://localhost:${server.addr.port}/`, {
        caCerts: [ca],
        timeout: 5000,
      });
      await ws.send("secure");
      assert.equal(await ws.recv({ timeout: 5000 }), "secure");
      await ws.send(new Uint8Array([5, 6]));
      assert.deepEqual(await ws.recv({ timeout: 5000 }), new Uint8Array([5, 6]));
      const info = await ws.close();
      assert.equal(info.code, 1000);
    } finally {
      ac.abort();
      await server.finished;
    }
  }),
);

const PAGE = `<!doctype html><meta charset="utf-8"><script>
async function run(path) {
  const ws = new WebSocket("ws://" + location.host + path);
  ws.binaryType = "arraybuffer";
  await new Promise((r, j) => { ws.onopen = r; ws.onerror = () => j(new Error("error")); });
  const got = [];
  const want = ["hello", "κόσμε", "x".repeat(70000)];
  const done = new Promise((r) => ws.onmessage = (e) => {
    got.push(typeof e.data === "string" ? e.data : Array.from(new Uint8Array(e.data)).join(","));
    if (got.length === want.length + 1) r();
  });
  for (const m of want) ws.send(m);
  ws.send(new Uint8Array([1, 2, 3]));
  await done;
  const ok = got.slice(0, 3).every((g, i) => g === want[i]) && got[3] === "1,2,3";
  const closed = new Promise((r) => ws.onclose = (e) => r(e.code + ":" + e.wasClean));
  ws.close(1000);
  return { ok, extensions: ws.extensions, closed: await closed };
}
</script>`;

const CHROMIUM = "/usr/bin/chromium";

function chromiumPresent(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

const hasChromium = chromiumPresent();
if (!hasChromium) console.log(`ws interop: Chromium test ignored: ${CHROMIUM} is missing`);

Deno.test({
  name: "ws interop: headless Chromium against the lunet server",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: noLeaks(async (t) => {
    // deno-lint-ignore no-import-prefix
    const { chromium } = await import("npm:playwright-core@^1");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    try {
      for (const compress of MODES) {
        await t.step(`compress: ${compress}`, async () => {
          const server = await typedEcho(compress);
          try {
            const page = await browser.newPage();
            await page.goto(`http://127.0.0.1:${server.addr.port}/`);
            const result = await page.evaluate("run('/echo')") as {
              ok: boolean;
              extensions: string;
              closed: string;
            };
            await page.close();
            assert.equal(result.ok, true);
            assert.equal(result.extensions.startsWith("permessage-deflate"), compress);
            assert.equal(result.closed, "1000:true");
          } finally {
            await server.shutdown();
          }
        });
      }
    } finally {
      await browser.close();
    }
  }),
});

import { deepEqual as assertEquals, ok as assert } from "node:assert/strict";
import { sleep } from "../mod.ts";
import { json, Router, sse } from "../src/http/mod.ts";
import { noLeaks } from "./leak.ts";
import { withServer } from "./http_helpers.ts";

function app(): Router {
  return new Router()
    .get(
      "/hello",
      (req) => json({ message: "hello", q: req.query.get("q"), cookie: req.cookies.a ?? null }),
    )
    .post("/echo", async (req) => json({ got: await req.json() }, { status: 201 }))
    .post("/upload", async (req) => {
      const parts: { name: string; filename?: string; size: number; sum: number }[] = [];
      for await (const part of req.multipart()) {
        let size = 0, sum = 0;
        for await (const chunk of part) {
          size += chunk.length;
          for (let i = 0; i < chunk.length; i++) {
            sum = (sum + chunk[i] * ((size - chunk.length + i) % 7 + 1)) % 65521;
          }
        }
        parts.push({ name: part.name, filename: part.filename, size, sum });
      }
      return { parts };
    })
    .get("/events", () =>
      sse(async (stream) => {
        for (let i = 1; i <= 5; i++) {
          await stream.send({ event: "n", id: String(i), data: String(i) });
          await sleep(5);
        }
      }));
}

async function run(cmd: string[]): Promise<string> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

Deno.test(
  "http: real clients (fetch, curl)",
  noLeaks(async (t) => {
    await withServer(app(), { maxBodyBytes: 32 << 20 }, async (port) => {
      const base = `http://127.0.0.1:${port}`;
      await t.step("fetch GET and POST JSON", async () => {
        const r = await fetch(`${base}/hello?q=x%20y`, { headers: { cookie: "a=1; b=2" } });
        assertEquals(await r.json(), { message: "hello", q: "x y", cookie: "1" });
        const p = await fetch(`${base}/echo`, {
          method: "POST",
          body: JSON.stringify({ a: [1, 2] }),
        });
        assertEquals([p.status, await p.json()], [201, { got: { a: [1, 2] } }]);
      });
      await t.step("fetch reads an SSE stream to the end", async () => {
        const r = await fetch(`${base}/events`);
        assertEquals(r.headers.get("content-type"), "text/event-stream");
        const body = await r.text();
        assertEquals(body.match(/^data: (\d)$/gm), [
          "data: 1",
          "data: 2",
          "data: 3",
          "data: 4",
          "data: 5",
        ]);
      });
      await t.step("curl GET, POST JSON, SSE", async () => {
        assertEquals(JSON.parse(await run(["curl", "-sS", `${base}/hello`])).message, "hello");
        const out = await run([
          "curl",
          "-sS",
          "-H",
          "content-type: application/json",
          "--data",
          '{"x":1}',
          `${base}/echo`,
        ]);
        assertEquals(JSON.parse(out), { got: { x: 1 } });
        const events = await run(["curl", "-sS", "-N", `${base}/events`]);
        assertEquals(events.match(/^id: \d$/gm)?.length, 5);
      });
      await t.step("curl multipart upload of a 20 MiB file (Expect: 100-continue)", async () => {
        const dir = await Deno.makeTempDir({ prefix: "lunet-http-" });
        try {
          const file = `${dir}/big.bin`;
          const data = new Uint8Array(20 << 20);
          for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 12)) & 0xff;
          await Deno.writeFile(file, data);
          let sum = 0;
          for (let i = 0; i < data.length; i++) sum = (sum + data[i] * (i % 7 + 1)) % 65521;
          const out = await run([
            "curl",
            "-sS",
            "-F",
            "title=hello",
            "-F",
            `file=@${file};type=application/octet-stream`,
            `${base}/upload`,
          ]);
          assertEquals(JSON.parse(out).parts, [
            {
              name: "title",
              size: 5,
              sum: [..."hello"].reduce((a, c, i) => a + c.charCodeAt(0) * (i % 7 + 1), 0),
            },
            { name: "file", filename: "big.bin", size: data.length, sum },
          ]);
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      });
      await t.step("fetch multipart form", async () => {
        const form = new FormData();
        form.append("a", "1");
        form.append("f", new File(["xyz"], "f.txt", { type: "text/plain" }));
        const r = await fetch(`${base}/upload`, { method: "POST", body: form });
        const { parts } = await r.json();
        assertEquals(parts.map((p: { name: string; size: number }) => [p.name, p.size]), [
          ["a", 1],
          ["f", 3],
        ]);
        assert(parts[1].filename === "f.txt");
      });
    });
  }),
);

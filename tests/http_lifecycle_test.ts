/**
 * Server lifecycle across threads and processes: `serve({ workers })`
 * serving one port from two workers, and graceful shutdown on SIGTERM
 * (one thread and workers) losing no in-flight request.
 */
import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { serve } from "../src/http/mod.ts";
import { shutdown } from "../src/signal.ts";
import { client, parseResponses, rawExchange, statusOf } from "./http_helpers.ts";
import { noLeaks } from "./leak.ts";

const FIXTURE = new URL("./fixtures/http_app.ts", import.meta.url);

Deno.test(
  "http: serve({ workers }) — two workers share one port and shut down cleanly",
  noLeaks(async (t) => {
    const server = await serve({ workers: 2, port: 0, module: FIXTURE, idleTimeout: 1000 });
    const port = server.addr.port!;
    try {
      await t.step("both workers answer on the same port", async () => {
        const seen = new Set<string>();
        // The kernel spreads connections by hash: a few dozen reach both.
        for (let i = 0; i < 200 && seen.size < 2; i++) {
          const { text } = await rawExchange(
            port,
            `GET /n${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
          );
          const [res] = parseResponses(text);
          equal(res.status, 200);
          const body = JSON.parse(res.body);
          equal(body.path, `/n${i}`);
          seen.add(body.worker);
        }
        deepEqual([...seen].sort(), ["lunet/http worker 1", "lunet/http worker 2"]);
      });
      await t.step("keep-alive connections are counted and closed by shutdown", async () => {
        const conn = await client(port);
        try {
          await conn.write("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
          ok((await conn.read({ timeout: 5000 })) !== null);
          while (server.connections === 0) await new Promise((r) => setTimeout(r, 20));
          await server.shutdown({ timeout: 2000 });
          equal(server.connections, 0);
          // The idle connection was closed by its worker.
          equal(await conn.read({ timeout: 5000 }).catch(() => null), null);
        } finally {
          conn.close();
        }
      });
      await t.step("the port is released", async () => {
        await rejects(client(port));
      });
    } finally {
      await server.shutdown({ timeout: 2000 });
    }
    await server.finished;
  }),
);

Deno.test(
  "http: serve({ workers }) refuses a module without an app",
  noLeaks(async () => {
    const notApp = new URL("./http_helpers.ts", import.meta.url);
    await rejects(serve({ workers: 1, port: 0, module: notApp }), /no default export/);
    await rejects(serve({ workers: 0, port: 0, module: FIXTURE }), RangeError);
  }),
);

/** Runs the fixture as a process; yields its stdout lines. */
function start(workers: number): {
  proc: Deno.ChildProcess;
  lines: AsyncIterator<string>;
} {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", FIXTURE.pathname, String(workers)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  async function* split(): AsyncGenerator<string> {
    let rest = "";
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      yield* parts;
    }
  }
  return { proc, lines: split() };
}

async function nextLine(lines: AsyncIterator<string>): Promise<string> {
  const { value, done } = await lines.next();
  if (done) throw new Error("the server process ended early");
  return value;
}

for (const workers of [0, 2]) {
  Deno.test(
    `http: SIGTERM drains the server (${workers ? `${workers} workers` : "one thread"})`,
    noLeaks(async () => {
      const { proc, lines } = start(workers);
      try {
        const port = Number((await nextLine(lines)).split(" ")[1]);
        const conn = await client(port);
        try {
          await conn.write("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
          equal(await nextLine(lines), "in flight");
          proc.kill("SIGTERM");
          let text = "";
          for (let c; (c = await conn.read({ timeout: 10_000 })) !== null;) {
            text += new TextDecoder().decode(c);
          }
          const [res] = parseResponses(text);
          equal(res.status, 200);
          equal(res.headers.connection, "close");
          match(res.body, /"path":"\/slow"/);
        } finally {
          conn.close();
        }
        const status = await proc.status;
        equal(status.code, 0);
        await rejects(client(port));
      } finally {
        try {
          proc.kill("SIGKILL");
        } catch { /* exited */ }
        await lines.return?.();
        await proc.status;
      }
    }),
  );
}

Deno.test(
  "http: lunet/signal's shutdown() drains a server, unless it was served with shutdownOnSignal: false",
  noLeaks(async () => {
    const kept = await serve(() => "kept", { port: 0, shutdownOnSignal: false });
    const wired = await serve(() => "wired", { port: 0 });
    try {
      const report = await shutdown({ exit: false, timeout: 2000 });
      ok(report.ok, String(report.errors));
      await wired.finished;
      await rejects(client(wired.addr.port!));
      const { text } = await rawExchange(
        kept.addr.port!,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      );
      equal(statusOf(text), 200);
      equal(parseResponses(text)[0].body, "kept");
    } finally {
      await kept.shutdown({ timeout: 2000 });
      await wired.shutdown({ timeout: 2000 });
    }
  }),
);

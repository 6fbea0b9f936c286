/**
 * Stress: lunet/http under sustained mixed load, every answer checked.
 *
 * 1. Keep-alive: clients send batches of pipelined requests (GET, POST
 *    with Content-Length, POST chunked) and check each answer in order.
 * 2. Churn: one request per connection with `Connection: close`.
 * 3. Uploads: 1 MiB chunked bodies, checksummed by the handler.
 * 4. Abrupt clients: heads cut short, bodies cut short, and clients that
 *    leave while their handler waits (it must be cancelled).
 * 5. Workers: keep-alive requests against `serve({ workers: 2 })`.
 *
 * After each part the server must hold no connection and the live
 * task/handle counts must return to the baseline. Bounded in count and
 * time, with a watchdog; prints progress and the request rate.
 *
 *     deno run -A stress/http_stress.ts           # full run
 *     deno run -A stress/http_stress.ts --smoke   # a few seconds
 *
 * Exits non-zero on any error (an error reported on stderr included) or
 * leak.
 *
 * @module
 */
import net from "node:net";
import { scope, sleep, spawn, trace } from "../mod.ts";
import { type Conn, connect } from "../src/socket.ts";
import { type HttpRequest, Router, serve, type Server } from "../src/http/mod.ts";

const smoke = Deno.args.includes("--smoke");
const scale = smoke ? 0.05 : 1;
const n = (full: number) => Math.max(1, Math.round(full * scale));
const WATCHDOG_MS = smoke ? 60_000 : 600_000;
const watchdog = setTimeout(() => {
  console.error(`http stress: watchdog fired after ${WATCHDOG_MS} ms`);
  Deno.exit(2);
}, WATCHDOG_MS);

const encoder = new TextEncoder();
let requests = 0;
let cancelled = 0;
// Anything the server reports on stderr (a failed connection, a crashed
// handler) counts as an error of the run.
let reported = 0;
const report = console.error;
console.error = (...args: unknown[]) => {
  reported++;
  report(...args);
};

/** Sum of the bytes, modulo 2^32: the upload checksum. */
function checksum(bytes: Uint8Array, sum = 0): number {
  for (let i = 0; i < bytes.length; i++) sum = (sum + bytes[i]) >>> 0;
  return sum;
}

const app = new Router()
  .get("/hello", (req) => ({ message: "hello", q: req.query.get("i") }))
  .post("/echo", async (req: HttpRequest) => {
    let length = 0, sum = 0;
    for await (const chunk of req.body) {
      length += chunk.length;
      sum = checksum(chunk, sum);
    }
    return { length, sum };
  })
  .get("/wait", async () => {
    try {
      await sleep(30_000);
    } catch (err) {
      cancelled++;
      throw err;
    }
    return "never";
  });

/** Reads fixed-length responses off a connection, one at a time. */
class Responses {
  #conn: Conn;
  #text = "";
  constructor(conn: Conn) {
    this.#conn = conn;
  }

  async next(): Promise<{ status: number; headers: string; body: string }> {
    for (;;) {
      const end = this.#text.indexOf("\r\n\r\n");
      if (end !== -1) {
        const head = this.#text.slice(0, end);
        const m = /content-length: (\d+)/i.exec(head);
        if (!m) throw new Error(`response without content-length: ${head}`);
        const total = end + 4 + Number(m[1]);
        if (this.#text.length >= total) {
          const body = this.#text.slice(end + 4, total);
          this.#text = this.#text.slice(total);
          return { status: Number(head.slice(9, 12)), headers: head, body };
        }
      }
      const chunk = await this.#conn.read({ timeout: 30_000 });
      if (chunk === null) throw new Error(`connection closed with ${this.#text.length} bytes left`);
      this.#text += new TextDecoder("latin1").decode(chunk);
    }
  }

  /** Resolves once the server closed the connection (after any leftover bytes). */
  async closed(): Promise<void> {
    while ((await this.#conn.read({ timeout: 30_000 })) !== null);
  }
}

function expect(cond: boolean, what: string): void {
  if (!cond) throw new Error(what);
}

function client(port: number): Promise<Conn> {
  return connect("127.0.0.1", port, { backend: "deno" });
}

/** Sends `text` on a fresh connection, then resets it (SO_LINGER 0). */
function resetAfter(port: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write(text, () => setTimeout(() => (socket.resetAndDestroy(), resolve()), 5));
    });
    socket.once("error", reject);
  });
}

function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

function chunkedRequest(path: string, body: Uint8Array, pieces: number): Uint8Array {
  const parts: Uint8Array[] = [
    encoder.encode(`POST ${path} HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n`),
  ];
  const step = Math.ceil(body.length / pieces);
  for (let i = 0; i < body.length; i += step) {
    const piece = body.subarray(i, i + step);
    parts.push(
      encoder.encode(`${piece.length.toString(16)};x=1\r\n`),
      piece,
      encoder.encode("\r\n"),
    );
  }
  parts.push(encoder.encode("0\r\n\r\n"));
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) out.set(p, off), off += p.length;
  return out;
}

async function part(
  name: string,
  server: Server,
  baseline: string,
  fn: () => Promise<string>,
): Promise<void> {
  const t0 = performance.now();
  const before = requests;
  const detail = await fn();
  for (let i = 0; i < 300 && (server.connections > 0 || counts() !== baseline); i++) {
    await sleep(10);
  }
  expect(server.connections === 0, `${name}: ${server.connections} connections left open`);
  expect(counts() === baseline, `${name}: leaked ${counts()} (baseline ${baseline})`);
  const secs = (performance.now() - t0) / 1000;
  const rate = ((requests - before) / secs).toFixed(0);
  console.log(`ok ${name}: ${detail}, ${rate} req/s, in ${secs.toFixed(1)} s`);
}

function counts(): string {
  return JSON.stringify(trace.snapshot().counts);
}

/** `clients` connections each send `batches` batches of `depth` pipelined requests. */
async function keepAlive(port: number, clients: number, batches: number, depth: number) {
  const small = encoder.encode('{"k":"v"}');
  let done = 0;
  await scope(() => {
    for (let c = 0; c < clients; c++) {
      spawn(async () => {
        const conn = await client(port);
        const responses = new Responses(conn);
        try {
          for (let b = 0; b < batches; b++) {
            let batch = "";
            for (let i = 0; i < depth; i++) {
              const k = (b * depth + i) % 3;
              if (k === 0) batch += `GET /hello?i=${i} HTTP/1.1\r\nHost: s\r\n\r\n`;
              else if (k === 1) {
                batch +=
                  `POST /echo HTTP/1.1\r\nHost: s\r\nContent-Length: ${small.length}\r\n\r\n` +
                  '{"k":"v"}';
              } else {batch +=
                  `POST /echo HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n` +
                  `4\r\n{"k"\r\n5\r\n:"v"}\r\n0\r\n\r\n`;}
            }
            await conn.write(batch);
            for (let i = 0; i < depth; i++) {
              const res = await responses.next();
              expect(res.status === 200, `keep-alive: status ${res.status}`);
              const k = (b * depth + i) % 3;
              const body = JSON.parse(res.body);
              if (k === 0) expect(body.q === String(i), `keep-alive: wrong answer ${res.body}`);
              else expect(body.length === 9 && body.sum === checksum(small), `echo: ${res.body}`);
              requests++;
            }
          }
        } finally {
          conn.close();
        }
        if (++done % Math.max(1, clients >> 2) === 0) console.log(`  ${done}/${clients} clients`);
      });
    }
  });
  return `${clients} clients × ${batches} batches × ${depth} pipelined`;
}

async function churn(port: number, total: number, concurrency: number) {
  let next = 0;
  await scope(() => {
    for (let c = 0; c < concurrency; c++) {
      spawn(async () => {
        while (next < total) {
          const i = next++;
          const conn = await client(port);
          try {
            await conn.write(`GET /hello?i=${i} HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n`);
            const responses = new Responses(conn);
            const res = await responses.next();
            expect(res.status === 200 && JSON.parse(res.body).q === String(i), "churn answer");
            expect(/connection: close/i.test(res.headers), "churn: no connection: close");
            await responses.closed();
            requests++;
          } finally {
            conn.close();
          }
        }
      });
    }
  });
  return `${total} connections, ${concurrency} at a time`;
}

async function uploads(port: number, count: number, size: number) {
  await scope(() => {
    for (let c = 0; c < 4; c++) {
      spawn(async () => {
        const conn = await client(port);
        const responses = new Responses(conn);
        try {
          for (let i = c; i < count; i += 4) {
            const body = randomBytes(size);
            await conn.write(chunkedRequest("/echo", body, 1 + (i % 37)));
            const res = await responses.next();
            const got = JSON.parse(res.body);
            expect(got.length === size && got.sum === checksum(body), `upload: ${res.body}`);
            requests++;
          }
        } finally {
          conn.close();
        }
      });
    }
  });
  return `${count} × ${size >> 20} MiB chunked uploads`;
}

async function abrupt(port: number, count: number) {
  const before = cancelled;
  let waits = 0;
  await scope(() => {
    for (let c = 0; c < 8; c++) {
      spawn(async () => {
        for (let i = c; i < count; i += 8) {
          requests++;
          if (i % 3 === 2) {
            // A client that leaves for good resets: a FIN alone is a
            // half-close, and still answered.
            await resetAfter(port, "GET /wait HTTP/1.1\r\nHost: s\r\n\r\n");
            waits++;
            continue;
          }
          const conn = await client(port);
          try {
            const cut = i % 3 === 0
              ? "GET /hello HTTP/1.1\r\nHost: s\r\nX-Cut: "
              : "POST /echo HTTP/1.1\r\nHost: s\r\nContent-Length: 1000\r\n\r\nabc";
            await conn.write(cut);
          } finally {
            conn.close();
          }
        }
      });
    }
  });
  // Every waiting handler must be cancelled once its client left.
  for (let i = 0; i < 500 && cancelled - before < waits; i++) await sleep(10);
  expect(cancelled - before === waits, `abrupt: ${cancelled - before}/${waits} handlers cancelled`);
  return `${count} clients cut short, ${waits} waiting handlers cancelled`;
}

async function workers(count: number, clients: number) {
  const pool = await serve({
    workers: 2,
    port: 0,
    module: new URL("../tests/fixtures/http_app.ts", import.meta.url),
  });
  const seen = new Set<string>();
  try {
    let next = 0;
    await scope(() => {
      for (let c = 0; c < clients; c++) {
        spawn(async () => {
          const conn = await client(pool.addr.port!);
          const responses = new Responses(conn);
          try {
            while (next < count) {
              const i = next++;
              await conn.write(`GET /w${i} HTTP/1.1\r\nHost: s\r\n\r\n`);
              const body = JSON.parse((await responses.next()).body);
              expect(body.path === `/w${i}`, `workers: wrong answer ${JSON.stringify(body)}`);
              seen.add(body.worker);
              requests++;
            }
          } finally {
            conn.close();
          }
        });
      }
    });
  } finally {
    await pool.shutdown({ timeout: 5000 });
  }
  return `${count} requests over ${clients} connections, served by ${seen.size} workers`;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const baseline = counts();
  const server = await serve(app, {
    port: 0,
    onError: () => {},
    headerTimeout: 5000,
    bodyTimeout: 5000,
    drainTimeout: 200,
  });
  const port = server.addr.port!;
  console.log(`http stress${smoke ? " (smoke)" : ""} on 127.0.0.1:${port}`);
  const serving = counts();
  try {
    await part("keep-alive", server, serving, () => keepAlive(port, 32, n(500), 8));
    await part("churn", server, serving, () => churn(port, n(20_000), 16));
    await part("uploads", server, serving, () => uploads(port, n(200), 1 << 20));
    await part("abrupt", server, serving, () => abrupt(port, n(3000)));
  } finally {
    await server.shutdown({ timeout: 5000 });
  }
  await part("workers", server, baseline, () => workers(n(40_000), 16));
  expect(reported === 0, `${reported} errors reported on stderr`);
  const secs = (performance.now() - t0) / 1000;
  console.log(
    `http stress: ${requests} requests in ${secs.toFixed(1)} s (${
      (requests / secs).toFixed(0)
    } req/s overall), no error, no leak`,
  );
}

try {
  await main();
} catch (err) {
  console.error("http stress failed:", err);
  Deno.exit(1);
} finally {
  clearTimeout(watchdog);
}

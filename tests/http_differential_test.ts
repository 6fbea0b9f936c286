/**
 * Differential test of the HTTP/1.1 engine: every case of the request
 * corpus (tests/fixtures/http_corpus) is sent, byte for byte and in one
 * write, to lunet/http, to node:http (llhttp, in a `node` child with its
 * strict default parser) and to `Deno.serve`. Each server answers through
 * its handler with an echo of the method, the target and the body length;
 * the client reads until the server closes or stays quiet, and splits what
 * it got into responses (interim 1xx ones skipped).
 *
 * Compared with llhttp, request by request, the test fails when lunet
 * - answers a request through its handler that llhttp rejects,
 * - frames a request differently (another method, target or body length),
 * - sends a different number of responses, unless lunet's last response
 *   rejects a request: ending the exchange at a rejection is being as
 *   strict as llhttp or stricter, which is allowed.
 * `Deno.serve` (hyper) is a second reference: where it disagrees with
 * lunet the case is reported, never failed on.
 *
 * @module
 */
import { fail, ok as assert } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { sleep } from "../mod.ts";
import { concat } from "../src/_bytes.ts";
import type { Conn } from "../src/socket.ts";
import { selectBackend } from "../src/_backend/select.ts";
import { type HttpRequest, respond, serve } from "../src/http/mod.ts";
import {
  type CorpusCase,
  corpusCases,
  latin1Text,
  mutatedCases,
} from "./fixtures/http_corpus/generate.ts";
import { client } from "./http_helpers.ts";
import { noLeaks } from "./leak.ts";
import { startPortServer } from "./process_helpers.ts";

/** How long a server may stay silent before its answer counts as complete. */
const QUIET = 300;
/** The same, when a difference is checked again one case at a time. */
const CONFIRM_QUIET = 1500;
/** Longest wait for one answer. */
const ANSWER_LIMIT = 5000;
const CONCURRENCY = 8;

/** What a handler echoed: the request as the server framed it. */
interface Echo {
  method: string;
  target: string;
  length: number;
}

/** One final response: its status, and the echo when the handler sent it. */
interface Reply {
  status: number;
  echo?: Echo;
}

/** Everything one server sent for one case. */
interface Answer {
  replies: Reply[];
  /** True when the server closed (or reset) the connection. */
  closed: boolean;
  /** Bytes after the last complete response. */
  partial: number;
}

const decoder = new TextDecoder();
const LF_LF = [13, 10, 13, 10];

function echoBody(method: string, target: string, length: number): string {
  return JSON.stringify({ method, target, length });
}

/** The headers every handler sets; `x-handler` tells a handler's answer from an engine's. */
function echoHeaders(method: string, body: string): Record<string, string> {
  return {
    "content-type": "application/json",
    "content-length": String(new TextEncoder().encode(body).length),
    "x-handler": encodeURIComponent(method),
  };
}

async function lunetEcho(req: HttpRequest) {
  const body = echoBody(req.method, req.target, (await req.bytes()).length);
  return respond(body, { headers: echoHeaders(req.method, body) });
}

async function denoEcho(req: Request): Promise<Response> {
  // Deno.serve gives an absolute URL built from Host; the target is its path part.
  const target = req.url.slice(req.url.indexOf("/", req.url.indexOf("//") + 2));
  const body = await req.bytes().catch(() => null);
  if (body === null) return new Response("unreadable body", { status: 400 });
  const echo = echoBody(req.method, target, body.length);
  return new Response(echo, { headers: echoHeaders(req.method, echo) });
}

/** The node:http reference server in a child process. */
async function startNode(): Promise<{ port: number; stop: () => Promise<void> }> {
  const script = fileURLToPath(new URL("./fixtures/http_corpus/node_server.mjs", import.meta.url));
  const { child, port } = await startPortServer("node", script, "piped");
  async function stop(): Promise<void> {
    await child.stdin.close();
    await child.status;
  }
  return { port, stop };
}

function indexOf(buf: Uint8Array, pattern: number[], from: number): number {
  outer: for (let i = from; i + pattern.length <= buf.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (buf[i + j] !== pattern[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * Splits received bytes into final responses; stops at the first one not
 * complete (its bytes count as `partial`).
 */
function parseAnswer(buf: Uint8Array, closed: boolean): Answer {
  const replies: Reply[] = [];
  let at = 0;
  for (;;) {
    const headEnd = indexOf(buf, LF_LF, at);
    if (headEnd === -1) break;
    const lines = decoder.decode(buf.subarray(at, headEnd)).split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] ?? NaN);
    if (Number.isNaN(status)) break;
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const colon = l.indexOf(":");
      headers.set(l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim());
    }
    let next = headEnd + 4;
    const handler = headers.get("x-handler");
    const length = headers.get("content-length");
    let body: Uint8Array = new Uint8Array();
    if (status < 200 || status === 204 || status === 304 || handler === "HEAD") {
      // no body
    } else if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") {
      const parts: Uint8Array[] = [];
      for (;;) {
        const lineEnd = indexOf(buf, [13, 10], next);
        if (lineEnd === -1) return { replies, closed, partial: buf.length - at };
        const size = parseInt(decoder.decode(buf.subarray(next, lineEnd)), 16);
        next = lineEnd + 2;
        if (size === 0) {
          const end = indexOf(buf, [13, 10], next);
          if (end === -1) return { replies, closed, partial: buf.length - at };
          next = end + 2;
          break;
        }
        if (next + size + 2 > buf.length) return { replies, closed, partial: buf.length - at };
        parts.push(buf.subarray(next, next + size));
        next += size + 2;
      }
      body = concat(parts);
    } else if (length !== undefined) {
      if (next + Number(length) > buf.length) break;
      body = buf.subarray(next, next + Number(length));
      next += Number(length);
    } else {
      if (!closed) break;
      body = buf.subarray(next);
      next = buf.length;
    }
    at = next;
    if (status < 200) continue;
    replies.push(handler === undefined ? { status } : { status, echo: parseEcho(handler, body) });
  }
  return { replies, closed, partial: buf.length - at };
}

function parseEcho(handler: string, body: Uint8Array): Echo {
  if (handler === "HEAD") return { method: "HEAD", target: "", length: 0 };
  return JSON.parse(decoder.decode(body));
}

/** Sends `bytes` on a new connection and reads until the server closes or is quiet. */
async function exchange(port: number, bytes: Uint8Array, quiet: number): Promise<Answer> {
  let conn: Conn;
  try {
    conn = await client(port);
  } catch (err) {
    throw new Error(`connect 127.0.0.1:${port}`, { cause: err });
  }
  const chunks: Uint8Array[] = [];
  let closed = false;
  try {
    await conn.write(bytes).catch((e) => {
      if (e.code !== "connection_reset" && e.code !== "closed") throw e;
    });
    const deadline = Date.now() + ANSWER_LIMIT;
    for (;;) {
      const chunk = await conn.read({ timeout: Math.min(quiet, deadline - Date.now()) }).catch(
        (e) => {
          if (e.code === "timeout") return undefined;
          if (e.code === "connection_reset") return null;
          throw e;
        },
      );
      if (chunk === undefined) break;
      if (chunk === null) {
        closed = true;
        break;
      }
      chunks.push(chunk);
    }
  } finally {
    conn.close();
  }
  return parseAnswer(concat(chunks), closed);
}

function sameEcho(a: Echo, b: Echo, targets: boolean): boolean {
  return a.method === b.method && a.length === b.length && (!targets || a.target === b.target);
}

function showReply(r: Reply): string {
  if (!r.echo) return String(r.status);
  const { method, target, length } = r.echo;
  const t = target.length > 40 ? `${target.slice(0, 20)}…(${target.length})` : target;
  return `${r.status}(${method} ${JSON.stringify(t)} ${length})`;
}

function showAnswer(a: Answer): string {
  const replies = a.replies.length ? a.replies.map(showReply).join(" ") : "no response";
  return `${replies}, ${a.closed ? "closed" : "left open"}${
    a.partial ? `, ${a.partial} bytes of an incomplete response` : ""
  }`;
}

/**
 * How lunet's answer differs from a reference's, request by request
 * (empty when it does not, or only by being stricter).
 */
function differences(lunet: Answer, ref: Answer, targets: boolean): string[] {
  const out: string[] = [];
  const n = Math.max(lunet.replies.length, ref.replies.length);
  const count = `lunet sent ${lunet.replies.length} responses, the reference ${ref.replies.length}`;
  for (let i = 0; i < n; i++) {
    const l = lunet.replies[i], r = ref.replies[i];
    if (!l) {
      out.push(count);
      break;
    }
    // lunet rejected this request and ended there (the reference may have
    // accepted it, rejected it or closed): as strict as it, or stricter.
    if (!l.echo && i === lunet.replies.length - 1) break;
    if (!r) {
      out.push(
        l.echo ? `request ${i + 1} answered through lunet's handler, not by the reference` : count,
      );
      break;
    }
    if (l.echo && !r.echo) {
      out.push(
        `request ${i + 1} accepted by lunet (${l.status}), rejected by the reference (${r.status})`,
      );
    } else if (l.echo && r.echo && !sameEcho(l.echo, r.echo, targets)) {
      out.push(
        `request ${i + 1} framed differently: lunet ${showReply(l)}, reference ${showReply(r)}`,
      );
    }
  }
  return out;
}

interface Servers {
  lunet: number;
  node: number;
  deno: number;
}

interface Outcome {
  c: CorpusCase;
  lunet: Answer;
  node: Answer;
  deno: Answer;
  againstNode: string[];
  againstDeno: string[];
}

async function run(c: CorpusCase, ports: Servers, quiet: number): Promise<Outcome> {
  const [lunet, node, deno] = await Promise.all([
    exchange(ports.lunet, c.bytes, quiet),
    exchange(ports.node, c.bytes, quiet),
    exchange(ports.deno, c.bytes, quiet),
  ]);
  return {
    c,
    lunet,
    node,
    deno,
    againstNode: differences(lunet, node, true),
    againstDeno: differences(lunet, deno, false),
  };
}

/** A case's bytes as a JSON string, every byte outside printable ASCII escaped. */
function showBytes(bytes: Uint8Array): string {
  return JSON.stringify(latin1Text(bytes.subarray(0, 300))).replace(
    /[\u007f-\u00ff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function showOutcome(o: Outcome, notes: string[]): string {
  return [
    `[${o.c.group}] ${o.c.name}`,
    `  bytes:      ${showBytes(o.c.bytes)}`,
    `  lunet:      ${showAnswer(o.lunet)}`,
    `  llhttp:     ${showAnswer(o.node)}`,
    `  Deno.serve: ${showAnswer(o.deno)}`,
    ...notes.map((n) => `  - ${n}`),
  ].join("\n");
}

Deno.test(
  "http: lunet accepts no request llhttp rejects and frames every request as llhttp does",
  { sanitizeOps: true, sanitizeResources: true },
  noLeaks(async () => {
    const cases = [...corpusCases(), ...mutatedCases()];
    const node = await startNode();
    const deno = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, denoEcho);
    const lunet = await serve(lunetEcho, {
      port: 0,
      onError() {
        // a malformed body makes the handler throw; the engine's answer is what is compared
      },
    });
    const ports = { lunet: lunet.addr.port!, node: node.port, deno: deno.addr.port };
    const outcomes: Outcome[] = [];
    try {
      let next = 0;
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < cases.length) {
          const c = cases[next++];
          let o = await run(c, ports, QUIET);
          if (o.againstNode.length || o.againstDeno.length) {
            await sleep(50);
            o = await run(c, ports, CONFIRM_QUIET);
          }
          outcomes.push(o);
        }
      }));
    } finally {
      await lunet.shutdown({ timeout: 2000 });
      await deno.shutdown();
      await node.stop();
    }
    const order = new Map(cases.map((c, i) => [c, i]));
    outcomes.sort((a, b) => order.get(a.c)! - order.get(b.c)!);

    const failures: string[] = [], excluded: string[] = [], denoOnly: string[] = [];
    for (const o of outcomes) {
      if (o.c.exclude) {
        assert(
          o.lunet.replies.length > 0 || o.lunet.closed,
          `lunet neither answered nor closed: ${showOutcome(o, [])}`,
        );
        if (o.againstNode.length) excluded.push(showOutcome(o, [`excluded: ${o.c.exclude}`]));
      } else if (o.againstNode.length) {
        failures.push(
          showOutcome(o, [...o.againstNode, ...o.againstDeno.map((d) => `Deno.serve: ${d}`)]),
        );
      } else if (o.againstDeno.length) {
        denoOnly.push(showOutcome(o, o.againstDeno));
      }
    }
    const backend = selectBackend().name;
    console.log(
      `${cases.length} cases on the ${backend} backend: ${failures.length} differ from llhttp, ` +
        `${excluded.length} excluded cases differ, ${denoOnly.length} differ from Deno.serve only`,
    );
    if (excluded.length) console.log(`excluded from the comparison:\n${excluded.join("\n")}`);
    if (denoOnly.length) console.log(`differ from Deno.serve only:\n${denoOnly.join("\n")}`);
    if (failures.length) {
      fail(
        `${failures.length} cases differ from llhttp (${backend} backend):\n${failures.join("\n")}`,
      );
    }
  }),
);

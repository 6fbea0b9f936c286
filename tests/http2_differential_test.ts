/**
 * Differential test of the HTTP/2 engine against node:http2 (nghttp2):
 * every raw frame case of tests/fixtures/h2/cases.ts is sent, the same
 * bytes on a fresh connection each, to lunet/http and to a node:http2
 * server (tests/fixtures/h2/node_server.mjs, a Node 22 child with the
 * same SETTINGS), and the first answer of each — GOAWAY code, RST_STREAM code,
 * response status, PING ACK, close — must be the same. Where nghttp2
 * answers otherwise and the RFC lets it, or it is laxer than the RFC, the
 * case is in {@linkcode NGHTTP2} with nghttp2's answer and the section
 * that decides; such an entry fails too once nghttp2's answer changes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { sleep } from "../mod.ts";
import { serve } from "../src/http/mod.ts";
import * as f from "../src/http/_h2_frames.ts";
import { goaway, type Outcome, RawClient, status } from "./fixtures/h2/raw_client.ts";
import { type Case, CASES } from "./fixtures/h2/cases.ts";
import { nodeTools } from "../tools/_node_tools.ts";
import { noLeaks } from "./leak.ts";
import { startPortServer } from "./process_helpers.ts";

const ignored: Outcome = { silent: true };
const stricter = "nghttp2 ends the connection where the RFC asks for a stream error; " +
  "RFC 9113 section 5.4.1 lets an endpoint do so, lunet resets the stream only";

/** Cases nghttp2 answers otherwise: its answer, and why lunet's is kept. */
const NGHTTP2: Record<string, { answer: Outcome; why: string }> = {
  // RFC 9113 section 5.1, half-closed (remote): "MUST respond with a stream error of type
  // STREAM_CLOSED".
  "DATA after END_STREAM": { answer: goaway(f.STREAM_CLOSED), why: stricter },
  // RFC 9113 section 5.1, closed: an endpoint "MAY treat receipt of any other type of frame
  // on a closed stream as a connection error"; nghttp2 keeps no closed stream it has not
  // reset itself and ignores the frame, lunet answers with the RFC's STREAM_CLOSED.
  "HEADERS after RST_STREAM": { answer: ignored, why: "5.1: nghttp2 ignores it" },
  "HEADERS on a closed stream": { answer: ignored, why: "5.1: nghttp2 ignores it" },
  // RFC 9113 section 6.1: DATA on a stream not open or half-closed (local) "MUST" get a stream
  // error STREAM_CLOSED; nghttp2 is laxer and ignores it.
  "DATA on a closed stream": { answer: ignored, why: "6.1: nghttp2 is laxer" },
  "DATA after RST_STREAM": { answer: ignored, why: "6.1: nghttp2 is laxer" },
  // RFC 9113 section 5.1.1: "An endpoint that receives an unexpected stream identifier MUST
  // respond with a connection error of type PROTOCOL_ERROR"; nghttp2 is laxer.
  "a stream id lower than one already opened": {
    answer: ignored,
    why: "5.1.1: nghttp2 is laxer",
  },
  // RFC 9113 section 5.3.1 keeps RFC 7540's rule, a stream depending on itself is a stream
  // error PROTOCOL_ERROR: nghttp2 (built without RFC 7540 priorities) ends the connection on
  // HEADERS and ignores a PRIORITY frame altogether, stream 0 included (RFC 9113 section 6.3:
  // "MUST respond with a connection error").
  "HEADERS depending on itself": { answer: goaway(f.PROTOCOL_ERROR), why: stricter },
  "PRIORITY on itself": { answer: ignored, why: "5.3.1: nghttp2 ignores PRIORITY" },
  "PRIORITY on stream 0": { answer: ignored, why: "6.3: nghttp2 ignores PRIORITY" },
  // RFC 9113 section 6.3: a PRIORITY of another length "MUST be treated as a stream error".
  "PRIORITY of the wrong size": { answer: goaway(f.FRAME_SIZE_ERROR), why: stricter },
  // RFC 9113 section 6.9: an increment of 0 on a stream, and section 6.9.1: a stream window
  // past 2^31-1, are stream errors; section 6.9.1 lets a receiver answer DATA past a window
  // with a stream or a connection error.
  "WINDOW_UPDATE of 0 on a stream": { answer: goaway(f.PROTOCOL_ERROR), why: stricter },
  "a stream window over 2^31-1": { answer: goaway(f.FLOW_CONTROL_ERROR), why: stricter },
  "DATA past the stream window": { answer: goaway(f.FLOW_CONTROL_ERROR), why: stricter },
  // RFC 9113 section 8.2.1: a field value with NUL, LF or CR makes the request malformed
  // (section 8.1.1: a stream error PROTOCOL_ERROR); node's nghttp2 options let it through.
  "a field value with a line feed": { answer: status("200"), why: "8.2.1: nghttp2 is laxer" },
  // RFC 9113 section 8.1.1: a content-length mismatch is a malformed request, a stream error;
  // node ends the whole session (INTERNAL_ERROR) when DATA overruns the declared length.
  "DATA frames adding up to more than content-length": {
    answer: goaway(f.INTERNAL_ERROR),
    why: "8.1.1: node ends the session",
  },
  // Defences, not RFC rules: nghttp2 caps CONTINUATION frames (8) and reports it as an
  // internal error through node; its SETTINGS, PING and rapid-reset limits (1000 queued ACKs,
  // a reset burst of 1000) are above what these cases send, so it answers them all.
  "a CONTINUATION flood": { answer: goaway(f.INTERNAL_ERROR), why: "defence" },
  "a SETTINGS flood": { answer: ignored, why: "defence: nghttp2 allows more" },
  "a PING flood": { answer: ignored, why: "defence: nghttp2 allows more" },
  "rapid reset (CVE-2023-44487)": { answer: ignored, why: "defence: nghttp2 allows more" },
};

/** The node:http2 reference server in a child process, killed by pid when done. */
async function startNode(): Promise<{ port: number; stop: () => Promise<void> }> {
  const script = fileURLToPath(new URL("./fixtures/h2/node_server.mjs", import.meta.url));
  // Node 22 (nghttp2 1.69, installed by npm as the MCP conformance run does): Node 20's
  // Http2Session answers nghttp2's connection errors with its own GOAWAY INTERNAL_ERROR.
  const { node } = await nodeTools();
  const { child, port } = await startPortServer(node, script, "null");
  const stop = async () => {
    child.kill("SIGTERM");
    await child.status;
  };
  return { port, stop };
}

async function answer(port: number, c: Case): Promise<Outcome> {
  const client = await RawClient.open(port, !c.noSettings);
  try {
    await c.act(client).catch(() => {}); // A server that already ended: its answer is read below.
    return await client.outcome(3000, c.ignore);
  } finally {
    client.close();
  }
}

Deno.test(
  "HTTP/2 differential: lunet answers each frame case as node:http2 (nghttp2) does",
  noLeaks(async (t) => {
    const node = await startNode();
    const lunet = await serve(async (req) => {
      if (req.path === "/slow") await sleep(2000);
      if (req.path === "/read") return { n: (await req.bytes()).length };
      return { path: req.path };
    }, { port: 0, http2: "h2c", shutdownOnSignal: false, onError: () => {} });
    const report: string[] = [];
    try {
      for (const c of CASES) {
        await t.step(`${c.section} ${c.name}`, async () => {
          const [ours, theirs] = await Promise.all([
            answer(lunet.addr.port!, c),
            answer(node.port, c),
          ]);
          const allowed = NGHTTP2[c.name];
          report.push(
            `${c.section} ${c.name}: lunet ${JSON.stringify(ours)} nghttp2 ${
              JSON.stringify(theirs)
            }`,
          );
          if (allowed !== undefined) assert.deepEqual(theirs, allowed.answer, allowed.why);
          else assert.deepEqual(ours, theirs);
        });
      }
    } finally {
      if (Deno.env.get("H2_DIFF_REPORT")) console.log(report.join("\n"));
      await lunet.shutdown({ timeout: 500 });
      await node.stop();
    }
  }),
);

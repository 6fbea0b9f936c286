/**
 * Connects given no timeout or deadline still end: against a peer that
 * accepts the connection and never answers, every client gives up after
 * its documented default (30 s), with a TimeoutError. The clients wait
 * side by side, so the test takes the 30 s once.
 */
import assert from "node:assert/strict";
import * as httpc from "../src/httpc.ts";
import { connect as mqttConnect } from "../src/mqtt/mod.ts";
import { connect as wsConnect } from "../src/ws/mod.ts";
import { noLeaks } from "./leak.ts";
import { rawPeer } from "./net_helpers.ts";

const DEFAULT = 30_000;

/** How `attempt` ended against its own silent peer, and after how long. */
async function against(attempt: (port: number) => Promise<unknown>) {
  const peer = rawPeer();
  const started = Date.now();
  try {
    const err = await attempt(peer.port).then(() => undefined, (e) => e);
    return { err, waited: Date.now() - started };
  } finally {
    await peer.close();
  }
}

Deno.test(
  "connects without a timeout give up on a peer that never answers after the default 30 s",
  noLeaks(async () => {
    const results = await Promise.all([
      against((port) => mqttConnect(`mqtt://127.0.0.1:${port}`, { clientId: "silent" })),
      against((port) => wsConnect(`ws://127.0.0.1:${port}/`, { protocols: ["chat"] })),
      against((port) => httpc.get(`http://127.0.0.1:${port}/`)),
    ]);
    for (const [i, name] of ["mqtt", "ws", "httpc"].entries()) {
      const { err, waited } = results[i];
      assert.equal(err?.code, "timeout", `${name}: ${err}`);
      assert.ok(waited >= DEFAULT - 1_000 && waited < DEFAULT + 15_000, `${name}: ${waited} ms`);
    }
  }),
);

import { deepEqual as assertEquals, ok as assert } from "node:assert/strict";
import { NotFound, spawn, type Task } from "../mod.ts";
import { lookup, resolve } from "../src/dns.ts";
import * as udp from "../src/udp.ts";
import { noLeaks } from "./leak.ts";

/**
 * A tiny authoritative DNS server on 127.0.0.1 (so no test needs the
 * internet): `lunet.test` has A 127.0.0.42, every other name is NXDOMAIN,
 * and `silent.test` gets no answer at all.
 */
function dnsServer(): { port: number; stop(): Promise<void> } {
  const sock = udp.bind("127.0.0.1", 0);
  const task: Task<void> = spawn(async () => {
    for (;;) {
      const q = await sock.recv().catch((e) => {
        if (e.code === "closed") return null;
        throw e;
      });
      if (q === null) return;
      const { name, end } = questionName(q.data);
      if (name === "silent.test") continue;
      const found = name === "lunet.test";
      const header = new Uint8Array(12);
      header.set(q.data.subarray(0, 2)); // id
      header[2] = 0x84 | (q.data[2] & 0x01); // QR, AA, RD copied
      header[3] = found ? 0 : 3; // RCODE 3 = NXDOMAIN
      header[5] = 1; // QDCOUNT
      header[7] = found ? 1 : 0; // ANCOUNT
      const question = q.data.subarray(12, end);
      // Answer: pointer to the name at offset 12, type A, class IN, TTL 60, 4 bytes.
      const answer = found ? [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 42] : [];
      const reply = new Uint8Array([...header, ...question, ...answer]);
      await sock.send(reply, q.host, q.port);
    }
  });
  return {
    port: sock.local.port,
    async stop() {
      sock.close();
      await task;
    },
  };
}

function questionName(msg: Uint8Array): { name: string; end: number } {
  const labels: string[] = [];
  let i = 12;
  while (msg[i] !== 0) {
    labels.push(new TextDecoder().decode(msg.subarray(i + 1, i + 1 + msg[i])));
    i += msg[i] + 1;
  }
  return { name: labels.join(".").toLowerCase(), end: i + 5 }; // zero byte, QTYPE, QCLASS
}

Deno.test(
  "dns: resolve and lookup",
  noLeaks(async (t) => {
    const server = dnsServer();
    const nameServer = { ipAddr: "127.0.0.1", port: server.port };
    await t.step("an A record", async () => {
      assertEquals(await resolve("lunet.test", "A", { nameServer, timeout: 5000 }), ["127.0.0.42"]);
    });
    await t.step("NXDOMAIN is NotFound naming the query", async () => {
      const err = await resolve("nope.test", "A", { nameServer, timeout: 5000 }).then(
        () => undefined,
        (e) => e,
      );
      assert(err instanceof NotFound, String(err));
      assert(/^resolve nope\.test A: /.test(err.message), err.message);
    });
    await t.step("a query with no answer times out and is abandoned", async () => {
      const err = await resolve("silent.test", "A", { nameServer, timeout: 50 }).then(
        () => undefined,
        (e) => e,
      );
      assertEquals(err?.code, "timeout", String(err));
    });
    await t.step("cancelling the task cancels the query", async () => {
      const task = spawn(() => resolve("silent.test", "A", { nameServer }));
      setTimeout(() => task.cancel("stop"), 20);
      const err = await task.then(() => undefined, (e) => e as { code?: string });
      assertEquals(err?.code, "cancelled", String(err));
    });
    await t.step("lookup uses the system resolver (hosts file included)", async () => {
      const ips = await lookup("localhost", { timeout: 5000 });
      assert(ips.includes("127.0.0.1") || ips.includes("::1"), ips.join());
    });
    await server.stop();
  }),
);

Deno.test(
  "dns: an empty host name is refused with a clear error by lookup() and connect()",
  noLeaks(async () => {
    const { connect } = await import("../src/socket.ts");
    for (
      const [what, attempt] of [
        ["lookup", () => lookup("")],
        ["connect", () => connect("", 80)],
      ] as const
    ) {
      const err = await (attempt() as Promise<unknown>).then(() => undefined, (e) => e);
      assert(err instanceof TypeError, `${what}: ${err}`);
      assertEquals(err.message, `${what}: the host name is empty`);
    }
  }),
);

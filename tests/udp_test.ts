import { deepEqual as assertEquals, ok as assert } from "node:assert/strict";
import { scope, sleep, spawn } from "../mod.ts";
import * as udp from "../src/udp.ts";
import { connect, listen } from "../src/socket.ts";
import { ffiSupported } from "../src/_backend/ffi/mod.ts";
import { selectBackend } from "../src/_backend/select.ts";
import { noLeaks } from "./leak.ts";
import { serveEcho } from "./net_helpers.ts";

const text = new TextDecoder();
// Every UDP test runs on each backend that can run here.
const backends = ffiSupported() ? ["deno", "ffi"] as const : ["deno"] as const;

async function code(p: PromiseLike<unknown>): Promise<string | undefined> {
  return await Promise.resolve(p).then(() => undefined, (e) => e.code ?? String(e));
}

for (const backend of backends) {
  Deno.test(
    `udp (${backend} backend): datagrams`,
    noLeaks(async (t) => {
      await t.step("echo over IPv4 and IPv6", async () => {
        for (const host of ["127.0.0.1", "::1"]) {
          using server = udp.bind(host, 0, { backend });
          using client = udp.bind(host, 0, { backend });
          assertEquals(server.local.hostname, host);
          await client.send("ping", host, server.local.port);
          const msg = await server.recv({ timeout: 5000 });
          assertEquals([text.decode(msg.data), msg.host, msg.port], [
            "ping",
            host,
            client.local.port,
          ]);
          await server.send(msg.data, msg.host, msg.port);
          assertEquals(text.decode((await client.recv({ timeout: 5000 })).data), "ping");
        }
      });
      await t.step("close wakes a parked recv", async () => {
        const s = udp.bind("127.0.0.1", 0, { backend });
        const receiving = s.recv();
        await sleep(10);
        s.close();
        assertEquals(await code(receiving), "closed");
        assertEquals(await code(s.recv()), "closed");
        assertEquals(await code(s.send("x", "127.0.0.1", 9)), "closed");
      });
      await t.step("a timed-out recv loses no datagram", async () => {
        using s = udp.bind("127.0.0.1", 0, { backend });
        using c = udp.bind("127.0.0.1", 0, { backend });
        assertEquals(await code(s.recv({ timeout: 20 })), "timeout");
        await c.send("late", "127.0.0.1", s.local.port);
        assertEquals(text.decode((await s.recv({ timeout: 5000 })).data), "late");
      });
      await t.step(
        "a cancelled recv loses no datagram; a ready one still honours the wait",
        async () => {
          using s = udp.bind("127.0.0.1", 0, { backend });
          using c = udp.bind("127.0.0.1", 0, { backend });
          const waiting = spawn(() => s.recv());
          await sleep(10);
          waiting.cancel();
          assertEquals(await code(waiting), "cancelled");
          await c.send("kept", "127.0.0.1", s.local.port);
          await sleep(10);
          assertEquals(await code(s.recv({ deadline: Date.now() - 1 })), "timeout");
          assertEquals(await code(s.recv({ signal: AbortSignal.abort() })), "cancelled");
          assertEquals(text.decode((await s.recv({ timeout: 5000 })).data), "kept");
        },
      );
      await t.step("a burst of queued datagrams arrives whole and in order", async () => {
        using s = udp.bind("127.0.0.1", 0, { backend });
        using c = udp.bind("127.0.0.1", 0, { backend });
        for (let i = 0; i < 200; i++) await c.send(`d${i}`, "127.0.0.1", s.local.port);
        for (let i = 0; i < 200; i++) {
          assertEquals(text.decode((await s.recv({ timeout: 5000 })).data), `d${i}`);
        }
      });
      await t.step("a datagram larger than the limit is reported, not cut", async () => {
        using s = udp.bind("127.0.0.1", 0, { maxDatagram: 100, backend });
        using c = udp.bind("127.0.0.1", 0, { backend });
        await c.send(new Uint8Array(101), "127.0.0.1", s.local.port);
        await c.send(new Uint8Array(100), "127.0.0.1", s.local.port);
        const err = await s.recv({ timeout: 5000 }).then(() => undefined, (e) => e);
        assertEquals(err?.code, "protocol");
        assert(/larger than 100 bytes/.test(err.message), err.message);
        assertEquals((await s.recv({ timeout: 5000 })).data.length, 100);
      });
      await t.step("Unix datagram sockets", async () => {
        const dir = await Deno.makeTempDir({ prefix: "lunet-udp-" });
        {
          using a = udp.bind(`${dir}/a.sock`, 0, { backend });
          using b = udp.bind(`${dir}/b.sock`, 0, { backend });
          assertEquals(a.local.path, `${dir}/a.sock`);
          await b.send("over unix", `${dir}/a.sock`);
          const msg = await a.recv({ timeout: 5000 });
          assertEquals([text.decode(msg.data), msg.host], ["over unix", `${dir}/b.sock`]);
        }
        await Deno.remove(dir, { recursive: true });
      });
      await t.step("loopback by default", () => {
        let err: { code?: string; message: string } | undefined;
        try {
          udp.bind("0.0.0.0", 0, { backend });
        } catch (e) {
          err = e as typeof err;
        }
        assertEquals(err?.code, "permission_denied");
        assert(/dangerouslyAllowPublic/.test(err!.message));
      });
      await t.step("broadcast send and multicast join", async () => {
        using s = udp.bind("127.0.0.1", 0, { backend });
        await s.send("to all", "127.255.255.255", s.local.port);
        await s.send("to localhost", "localhost", s.local.port);
        const leave = await s.joinMulticast("239.255.12.34", "127.0.0.1");
        await leave();
      });
    }),
  );

  Deno.test(
    `udp (${backend} backend): a datagram larger than UDP allows fails with message_too_long`,
    noLeaks(async () => {
      using s = udp.bind("127.0.0.1", 0, { backend });
      const err = await s.send(new Uint8Array(70_000), "127.0.0.1", s.local.port).then(
        () => undefined,
        (e) => e,
      );
      assertEquals(err?.code, "message_too_long", String(err));
      assertEquals(err.message, `send 127.0.0.1:${s.local.port}: message too long`);
    }),
  );

  Deno.test(
    `udp (${backend} backend): 32 TCP clients x 200 heartbeats while UDP traffic runs on the same loop`,
    noLeaks(async () => {
      const l = await listen("tcp", "127.0.0.1", 0);
      const tcpServer = serveEcho(l);
      const udpServer = udp.bind("127.0.0.1", 0, { backend });
      let udpEchoed = 0;
      const udpEcho = spawn(async () => {
        for (;;) {
          const msg = await udpServer.recv().catch((e) => {
            if (e.code === "closed") return null;
            throw e;
          });
          if (msg === null) return;
          await udpServer.send(msg.data, msg.host, msg.port);
          udpEchoed++;
        }
      });
      let udpReplies = 0;
      const tcpDone = { value: false };
      const udpClient = spawn(async () => {
        using c = udp.bind("127.0.0.1", 0, { backend });
        while (!tcpDone.value) {
          await c.send(`dgram ${udpReplies}`, "127.0.0.1", udpServer.local.port);
          // UDP may drop under load; a lost datagram just times out.
          const got = await c.recv({ timeout: 200 }).catch((e) => {
            if (e.code === "timeout") return null;
            throw e;
          });
          if (got) udpReplies++;
        }
      });
      await scope(() => {
        for (let i = 0; i < 32; i++) {
          spawn(async () => {
            using c = await connect("127.0.0.1", l.addr.port);
            for (let beat = 0; beat < 200; beat++) {
              const msg = `client ${i} beat ${beat}\n`;
              await c.write(msg);
              let got = "";
              while (got.length < msg.length) {
                got += text.decode((await c.read({ timeout: 10_000 }))!);
              }
              assertEquals(got, msg);
            }
          });
        }
      });
      tcpDone.value = true;
      await udpClient;
      udpServer.close();
      await udpEcho;
      l.close();
      await tcpServer;
      assert(udpReplies > 0 && udpEchoed >= udpReplies, `${udpReplies} UDP replies`);
    }),
  );
}

Deno.test(
  "udp (deno backend): without --unstable-net the error names the flag and the deno.json setting",
  noLeaks(async () => {
    const udpModule = new URL("../src/udp.ts", import.meta.url).href;
    const script = `import { bind } from ${JSON.stringify(udpModule)};
      try { bind("127.0.0.1", 0); } catch (e) { console.log(e.message); }`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-config", script],
      env: { LUNET_BACKEND: "deno" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const message = new TextDecoder().decode(out.stdout);
    assert(/--unstable-net/.test(message) && /"unstable": \["net"\]/.test(message), message);
  }),
);

for (const backend of backends) {
  Deno.test(
    `udp (${backend} backend): the backend's datagram handle without its fast paths`,
    noLeaks(async () => {
      const b = selectBackend(backend);
      const server = b.bindDatagram({ transport: "tcp", hostname: "127.0.0.1", port: 0 });
      const client = b.bindDatagram({ transport: "tcp", hostname: "127.0.0.1", port: 0 });
      try {
        const buf = new Uint8Array(8);
        const receiving = server.receive(buf);
        assertEquals(
          await client.send(new TextEncoder().encode("hi"), "localhost", server.local.port!),
          2,
        );
        assertEquals(await receiving, 2);
        assertEquals(text.decode(buf.subarray(0, 2)), "hi");
        assertEquals(server.from(), {
          transport: "tcp",
          hostname: "127.0.0.1",
          port: client.local.port,
        });
        // A datagram that does not fit reports at least the buffer's length.
        await client.send(new Uint8Array(100), "127.0.0.1", server.local.port!);
        assert((await server.receive(buf)) >= buf.length);
        // Close fails a pending receive.
        const pending = server.receive(buf);
        server.close();
        assertEquals(await code(pending), "closed");
      } finally {
        server.close();
        client.close();
      }
    }),
  );
}

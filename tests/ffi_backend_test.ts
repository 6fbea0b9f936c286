import { deepEqual as assertEquals, ok as assert } from "node:assert/strict";
import { scope, sleep, spawn, trace } from "../mod.ts";
import { ffiBackend, ffiSupported } from "../src/_backend/ffi/mod.ts";
import type { FfiStream } from "../src/_backend/ffi/stream.ts";
import type { ListenerHandle } from "../src/_backend/types.ts";
import { connect, listen } from "../src/socket.ts";
import { noLeaks } from "./leak.ts";
import { patternRoundTrip, serveEcho } from "./net_helpers.ts";

const ignore = !ffiSupported();
const LOOPBACK = { transport: "tcp", hostname: "127.0.0.1", port: 0 } as const;

function openFds(): number {
  let n = 0;
  for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
  return n;
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

// A connected pair of raw backend streams.
async function pair(): Promise<{ l: ListenerHandle; c: FfiStream; s: FfiStream }> {
  const l = ffiBackend.listen({ addr: LOOPBACK }) as ListenerHandle;
  const c = await ffiBackend.connect(l.addr) as FfiStream;
  const s = await l.accept() as FfiStream;
  return { l, c, s };
}

function closeAll(...handles: { close(): void }[]): void {
  for (const h of handles) h.close();
}

Deno.test({
  name: "ffi backend: 10,000 connect/close cycles leave the fd count unchanged",
  ignore,
  fn: noLeaks(async () => {
    const cycle = async (count: number) => {
      const l = await listen("tcp", "127.0.0.1", 0, { backend: "ffi" });
      const server = spawn(async () => {
        for await (const conn of l) conn.close();
      });
      for (let i = 0; i < count; i++) {
        const c = await connect("127.0.0.1", l.addr.port, { backend: "ffi" });
        c.close();
      }
      l.close();
      await server;
    };
    await cycle(10);
    const before = openFds();
    const traced = trace.snapshot().counts.fd ?? 0;
    await cycle(10_000);
    assertEquals(openFds(), before);
    assertEquals(trace.snapshot().counts.fd ?? 0, traced);
  }),
});

Deno.test({
  name: "ffi backend: open fds are counted in trace",
  ignore,
  fn: noLeaks(async () => {
    const before = trace.snapshot().counts.fd ?? 0;
    const { l, c, s } = await pair();
    // listener, two streams, the epoll instance and its wake-up eventfd
    assertEquals(trace.snapshot().counts.fd, before + 5);
    closeAll(c, s);
    assertEquals(trace.snapshot().counts.fd, before + 3);
    l.close();
    assertEquals(trace.snapshot().counts.fd ?? 0, before);
  }),
});

Deno.test({
  name: "ffi backend: EAGAIN and partial writes",
  ignore,
  fn: noLeaks(async (t) => {
    await t.step("a write larger than the socket buffers is partial, then parks", async () => {
      const { l, c, s } = await pair();
      const big = new Uint8Array(64 << 20);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      const first = await c.write(big);
      assert(first > 0 && first < big.length, `first write took ${first} bytes`);
      // EAGAIN was seen: nothing more fits until the peer reads.
      assertEquals(c.tryWrite(big.subarray(first)), 0);
      const writer = spawn(async () => {
        for (let off = first; off < big.length;) off += await c.write(big.subarray(off));
        await c.closeWrite();
      });
      const buf = new Uint8Array(256 * 1024);
      let got = 0;
      for (let n; (n = await s.read(buf)) !== null; got += n) {
        for (let i = 0; i < n; i++) {
          if (buf[i] !== ((got + i) * 7 & 0xff)) throw new Error(`byte ${got + i} differs`);
        }
      }
      assertEquals(got, big.length);
      await writer;
      closeAll(c, s, l);
    });
    await t.step("a read with nothing to read parks until data comes", async () => {
      const { l, c, s } = await pair();
      const buf = new Uint8Array(16);
      assertEquals(s.tryRead(buf), -1);
      const reading = s.read(buf);
      await c.write(new Uint8Array([1, 2, 3]));
      assertEquals(await reading, 3);
      assertEquals([...buf.subarray(0, 3)], [1, 2, 3]);
      closeAll(c, s, l);
    });
    await t.step(
      "onReadable() waits without a buffer, fires once, can be replaced, wakes on close",
      async () => {
        const { l, c, s } = await pair();
        const buf = new Uint8Array(16);
        assertEquals(s.tryRead(buf), -1);
        let woken = 0;
        s.onReadable(() => {
          throw new Error("a replaced callback must not run");
        });
        const ready = new Promise<void>((resolve) =>
          s.onReadable(() => {
            woken++;
            resolve();
          })
        );
        await c.write(new Uint8Array([9]));
        await ready;
        let now = false;
        s.onReadable(() => now = true); // data is there: at once
        assert(now);
        assertEquals(s.tryRead(buf), 1);
        s.onReadable(() => {
          throw new Error("a cancelled callback must not run");
        });
        s.onReadable(undefined);
        const again = new Promise<void>((resolve) => s.onReadable(resolve));
        await c.write(new Uint8Array([8]));
        await again;
        assertEquals(s.tryRead(buf), 1);
        assertEquals(woken, 1);
        const closing = new Promise<void>((resolve) => s.onReadable(resolve));
        s.close();
        await closing;
        assertEquals(await codeOf(Promise.resolve().then(() => s.tryRead(buf))), "closed");
        closeAll(c, l);
      },
    );
    await t.step("a 32 MiB pattern round trip through lunet/socket", async () => {
      const l = await listen("tcp", "127.0.0.1", 0, { backend: "ffi" });
      const server = serveEcho(l);
      const c = await connect("127.0.0.1", l.addr.port, { backend: "ffi" });
      assertEquals(await patternRoundTrip(c, 32 << 20), 32 << 20);
      c.close();
      l.close();
      await server;
    });
  }),
});

Deno.test({
  name: "ffi backend: FIN and RST",
  ignore,
  fn: noLeaks(async (t) => {
    await t.step("a peer's close with nothing unread is end of stream", async () => {
      const l = await listen("tcp", "127.0.0.1", 0, { backend: "ffi" });
      const c = await connect("127.0.0.1", l.addr.port, { backend: "ffi" });
      const s = await l.accept();
      await c.write("bye");
      assertEquals(new TextDecoder().decode((await s.read())!), "bye");
      s.close();
      assertEquals(await c.read(), null);
      closeAll(c, l);
    });
    await t.step("data and FIN arriving together: the data, then end of stream", async () => {
      const { l, c, s } = await pair();
      const buf = new Uint8Array(1024);
      const reading = s.read(buf);
      await c.write(new Uint8Array([1, 2, 3]));
      await c.closeWrite();
      assertEquals(await reading, 3);
      assertEquals(await s.read(buf), null);
      closeAll(c, s, l);
    });
    await t.step("a peer's close with unread data resets the connection", async () => {
      const l = await listen("tcp", "127.0.0.1", 0, { backend: "ffi" });
      const c = await connect("127.0.0.1", l.addr.port, { backend: "ffi" });
      const s = await l.accept({ readBufferSize: 1 });
      await c.write("ab");
      // One byte read proves the segment arrived; "b" stays unread.
      assertEquals((await s.read())!.length, 1);
      s.close();
      assertEquals(await codeOf(c.read()), "connection_reset");
      closeAll(c, l);
    });
    await t.step("a write after the peer reset fails with connection_reset", async () => {
      const { l, c, s } = await pair();
      await c.write(new Uint8Array([1, 2]));
      assertEquals(await s.read(new Uint8Array(1)), 1);
      s.close();
      const buf = new Uint8Array(8);
      assertEquals(await codeOf(c.read(buf)), "connection_reset");
      assertEquals(await codeOf(c.write(buf)), "connection_reset");
      closeAll(c, l);
    });
  }),
});

Deno.test({
  name: "ffi backend: a shutdown after the peer reset the connection fails with not_connected",
  ignore,
  fn: noLeaks(async () => {
    const l = await listen("tcp", "127.0.0.1", 0, { backend: "ffi" });
    const c = await connect("127.0.0.1", l.addr.port, { backend: "ffi" });
    const s = await l.accept();
    await c.write("unread");
    await sleep(20);
    // Closing with unread bytes resets the connection.
    s.close();
    await sleep(20);
    try {
      const err = await c.shutdown().then(() => undefined, (e) => e);
      assertEquals(err?.code, "not_connected", String(err));
      assertEquals(err.message, `shutdown 127.0.0.1:${l.addr.port}: not connected`);
    } finally {
      closeAll(c, l);
    }
  }),
});

Deno.test({
  name: "ffi backend: close wakes pending operations with ClosedError",
  ignore,
  fn: noLeaks(async (t) => {
    await t.step("read", async () => {
      const { l, c, s } = await pair();
      const reading = s.read(new Uint8Array(16));
      s.close();
      assertEquals(await codeOf(reading), "closed");
      assertEquals(await codeOf(s.read(new Uint8Array(16))), "closed");
      closeAll(c, l);
    });
    await t.step("write blocked on a full buffer", async () => {
      const { l, c, s } = await pair();
      const chunk = new Uint8Array(1 << 20);
      while (c.tryWrite(chunk) > 0);
      const writing = c.write(chunk);
      c.close();
      assertEquals(await codeOf(writing), "closed");
      assertEquals(await codeOf(c.write(chunk)), "closed");
      closeAll(s, l);
    });
    await t.step("accept", async () => {
      const l = ffiBackend.listen({ addr: LOOPBACK }) as ListenerHandle;
      const accepting = l.accept();
      l.close();
      assertEquals(await codeOf(accepting), "closed");
      l.close();
    });
    await t.step("lunet/socket read, write and accept", async () => {
      const l = await listen("tcp", "127.0.0.1", 0, { backend: "ffi" });
      const c = await connect("127.0.0.1", l.addr.port, { backend: "ffi" });
      const s = await l.accept();
      const reading = s.read();
      const accepting = l.accept();
      s.close();
      l.close();
      assertEquals(await codeOf(reading), "closed");
      assertEquals(await codeOf(accepting), "closed");
      c.close();
    });
  }),
});

Deno.test({
  name: "ffi backend: Unix stream sockets",
  ignore,
  fn: noLeaks(async () => {
    const dir = await Deno.makeTempDir({ prefix: "lunet-ffi-" });
    const path = `${dir}/echo.sock` as const;
    const l = await listen("unix", path, undefined, { backend: "ffi" });
    const server = serveEcho(l);
    const c = await connect(path, { backend: "ffi" });
    assertEquals(c.peer, { transport: "unix", path });
    assertEquals(await patternRoundTrip(c, 1 << 20), 1 << 20);
    c.close();
    l.close();
    await server;
    await Deno.remove(dir, { recursive: true });
  }),
});

Deno.test({
  name: "ffi backend: addresses and errors",
  ignore,
  fn: noLeaks(async () => {
    const l6 = ffiBackend.listen({ addr: { transport: "tcp", hostname: "::1", port: 0 } });
    const h6 = l6 as ListenerHandle;
    assertEquals(h6.addr.hostname, "::1");
    const c6 = await ffiBackend.connect({
      transport: "tcp",
      hostname: "0:0::1",
      port: h6.addr.port,
    });
    const s6 = await h6.accept();
    assertEquals(s6.peer, c6.local);
    assertEquals(c6.peer.hostname, "0:0::1");
    closeAll(c6, s6, h6);
    const l4 = ffiBackend.listen({ addr: LOOPBACK }) as ListenerHandle;
    let err = await codeOf(Promise.resolve().then(() => ffiBackend.listen({ addr: l4.addr })));
    assertEquals(err, "address_in_use");
    l4.close();
    err = await codeOf(ffiBackend.connect({ ...LOOPBACK, port: l4.addr.port }));
    assertEquals(err, "connection_refused");
  }),
});

Deno.test({
  name: "ffi backend: timers and Deno-native I/O keep running under load",
  ignore,
  fn: noLeaks(async () => {
    const l = await listen("tcp", "127.0.0.1", 0, { backend: "ffi" });
    const server = serveEcho(l);
    let stop = false;
    let roundTrips = 0;
    await scope(async () => {
      for (let i = 0; i < 4; i++) {
        spawn(async () => {
          const c = await connect("127.0.0.1", l.addr.port, { backend: "ffi" });
          while (!stop) {
            await c.write("ping");
            await c.read();
            roundTrips++;
          }
          c.close();
        });
      }
      await sleep(20);
      const native = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const nc = await Deno.connect({ hostname: "127.0.0.1", port: native.addr.port });
      const ns = await native.accept();
      await nc.write(new Uint8Array([42]));
      const b = new Uint8Array(1);
      assertEquals(await ns.read(b), 1);
      closeAll(nc, ns, native);
      await sleep(20);
      stop = true;
    });
    assert(roundTrips > 0);
    l.close();
    await server;
  }),
});

Deno.test({
  name: "ffi backend: an idle backend does not keep the process alive",
  ignore,
  fn: async () => {
    const mod = new URL("../src/_backend/ffi/mod.ts", import.meta.url).href;
    const script = `
      import { ffiBackend } from ${JSON.stringify(mod)};
      const l = ffiBackend.listen({ addr: { transport: "tcp", hostname: "127.0.0.1", port: 0 } });
      const c = await ffiBackend.connect(l.addr);
      const s = await l.accept();
      await c.write(new Uint8Array([1]));
      await s.read(new Uint8Array(1));
      s.read(new Uint8Array(1)).catch(() => {});
      s.close();
      console.log("done");`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--allow-ffi", script],
      signal: AbortSignal.timeout(30_000),
    }).output();
    assertEquals(new TextDecoder().decode(out.stdout).trim(), "done");
    assert(out.success, new TextDecoder().decode(out.stderr));
  },
});

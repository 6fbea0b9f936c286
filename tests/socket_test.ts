import {
  deepEqual as assertEquals,
  ok as assert,
  rejects as assertRejects,
} from "node:assert/strict";
import { Cancelled, ClosedError, scope, sleep, spawn, TimeoutError } from "../mod.ts";
import { Conn, connect, isLoopback, listen, type UnixPath } from "../src/socket.ts";
import { noLeaks } from "./leak.ts";
import { patternRoundTrip, serveEcho } from "./net_helpers.ts";

const text = new TextDecoder();
const bytes = (s: string) => new TextEncoder().encode(s);

async function rejectsWith(p: PromiseLike<unknown>, code: string, match?: RegExp): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assertEquals((err as { code?: string }).code, code, String(err));
    if (match) assert(match.test((err as Error).message), (err as Error).message);
    return err as Error;
  }
  throw new Error(`expected a rejection with code ${code}`);
}

async function readText(conn: { read(): Promise<Uint8Array | null> }, n: number): Promise<string> {
  let out = "";
  while (out.length < n) {
    const chunk = await conn.read();
    if (chunk === null) break;
    out += text.decode(chunk);
  }
  return out;
}

async function tempPath(name: string): Promise<{ dir: string; path: UnixPath }> {
  const dir = await Deno.makeTempDir({ prefix: "lunet-socket-" });
  return { dir, path: `${dir}/${name}` };
}

Deno.test(
  "socket: echo over TCP (IPv4, IPv6, names) and Unix",
  noLeaks(async (t) => {
    await t.step("IPv4", async () => {
      const l = await listen("tcp", "127.0.0.1", 0);
      const server = serveEcho(l);
      assertEquals(l.addr, { transport: "tcp", hostname: "127.0.0.1", port: l.addr.port });
      const c = await connect("127.0.0.1", l.addr.port);
      assertEquals(c.peer, { transport: "tcp", hostname: "127.0.0.1", port: l.addr.port });
      assertEquals(c.local.hostname, "127.0.0.1");
      c.setNoDelay(true);
      c.setKeepAlive(true);
      await c.write("hello ");
      await c.write(bytes("world"));
      assertEquals(await readText(c, 11), "hello world");
      c.close();
      l.close();
      await server;
    });
    await t.step("IPv6 ::1 and [::1]", async () => {
      const l = await listen("tcp", "::1", 0);
      const server = serveEcho(l);
      assertEquals(l.addr.hostname, "::1");
      const c = await connect("[::1]", l.addr.port);
      await c.write("six");
      assertEquals(await readText(c, 3), "six");
      c.close();
      l.close();
      await server;
    });
    await t.step("host names are resolved", async () => {
      const l = await listen("tcp", "localhost", 0);
      const server = serveEcho(l);
      const c = await connect("localhost", l.addr.port);
      await c.write("name");
      assertEquals(await readText(c, 4), "name");
      c.close();
      l.close();
      await server;
    });
    await t.step("Unix socket; the file is removed on close", async () => {
      const { dir, path } = await tempPath("echo.sock");
      const l = await listen("unix", path);
      // A Unix listener's address is its path, with no port.
      assertEquals(l.addr, { transport: "unix", path });
      const server = serveEcho(l);
      const c = await connect(path);
      assertEquals(c.peer.transport, "unix");
      await c.write("unix");
      assertEquals(await readText(c, 4), "unix");
      c.close();
      l.close();
      await server;
      await assertRejects(() => Deno.lstat(path), Deno.errors.NotFound);
      await Deno.remove(dir, { recursive: true });
    });
    await t.step("async iteration and using", async () => {
      const l = await listen("tcp", "127.0.0.1", 0);
      const got: string[] = [];
      const server = spawn(async () => {
        for await (const conn of l) {
          using c = conn;
          got.push(text.decode((await c.read())!));
        }
      });
      for (const word of ["a", "b", "c"]) {
        await using c = await connect("127.0.0.1", l.addr.port);
        await c.write(word);
        assertEquals(await c.read(), null); // the server closes after one read
      }
      l.close();
      await server;
      assertEquals(got, ["a", "b", "c"]);
    });
  }),
);

Deno.test(
  "socket: 256 MiB each way through an echo server, every byte checked",
  noLeaks(async () => {
    const l = await listen("tcp", "127.0.0.1", 0);
    const server = serveEcho(l);
    const c = await connect("127.0.0.1", l.addr.port);
    const total = 256 * 1024 * 1024;
    assertEquals(await patternRoundTrip(c, total), total);
    c.close();
    l.close();
    await server;
  }),
);

Deno.test(
  "socket: reconnect churn, 256 clients x 5 rounds",
  noLeaks(async () => {
    const l = await listen("tcp", "127.0.0.1", 0);
    const server = serveEcho(l);
    for (let round = 0; round < 5; round++) {
      await scope(() => {
        for (let i = 0; i < 256; i++) {
          spawn(async () => {
            const c = await connect("127.0.0.1", l.addr.port);
            try {
              const msg = `round ${round} client ${i}`;
              await c.write(msg);
              assertEquals(await readText(c, msg.length), msg);
            } finally {
              c.close();
            }
          });
        }
      });
    }
    l.close();
    await server;
  }),
);

Deno.test(
  "socket: close wakes parked operations",
  noLeaks(async (t) => {
    const l = await listen("tcp", "127.0.0.1", 0);
    await t.step("read", async () => {
      const c = await connect("127.0.0.1", l.addr.port);
      const peer = await l.accept();
      const reading = c.read();
      await sleep(10);
      c.close();
      await rejectsWith(reading, "closed", /^read 127\.0\.0\.1:\d+: closed/);
      await rejectsWith(c.read(), "closed");
      await rejectsWith(c.write("x"), "closed");
      c.close(); // idempotent
      peer.close();
    });
    await t.step("read inside a task", async () => {
      const c = await connect("127.0.0.1", l.addr.port);
      const peer = await l.accept();
      const reader = spawn(() => c.read());
      await sleep(10);
      c.close();
      await rejectsWith(reader, "closed");
      peer.close();
    });
    await t.step("write blocked by a peer that does not read, and queued writers", async () => {
      const c = await connect("127.0.0.1", l.addr.port);
      const peer = await l.accept();
      const block = new Uint8Array(1024 * 1024);
      const writers = [c.write(block), c.write(block)];
      for (let i = 0; i < 64; i++) writers.push(c.write(block));
      await sleep(50);
      c.close();
      const results = await Promise.allSettled(writers);
      assertEquals(results.at(-1)!.status, "rejected"); // 66 MiB cannot fit in socket buffers
      for (const r of results) {
        if (r.status === "rejected") assertEquals(r.reason.code, "closed", String(r.reason));
      }
      peer.close();
    });
    await t.step("accept", async () => {
      const other = await listen("tcp", "127.0.0.1", 0);
      const accepting = other.accept();
      await sleep(10);
      other.close();
      await rejectsWith(accepting, "closed", /^accept 127\.0\.0\.1:\d+: closed/);
      await rejectsWith(other.accept(), "closed");
    });
    await t.step(
      "a connection accepted after accept() gave up is closed with the listener",
      async () => {
        const other = await listen("tcp", "127.0.0.1", 0);
        await rejectsWith(other.accept({ timeout: 20 }), "timeout");
        const c = await connect("127.0.0.1", other.addr.port);
        await sleep(20);
        other.close();
        assertEquals(await c.read({ timeout: 5000 }), null);
        c.close();
      },
    );
    await t.step(
      "a timed-out accept keeps its request: the next accept gets the client",
      async () => {
        const other = await listen("tcp", "127.0.0.1", 0);
        await rejectsWith(other.accept({ timeout: 20 }), "timeout");
        const c = await connect("127.0.0.1", other.addr.port);
        const s = await other.accept({ timeout: 5000 });
        await c.write("ok");
        assertEquals(await readText(s, 2), "ok");
        s.close();
        c.close();
        other.close();
      },
    );
    l.close();
  }),
);

Deno.test(
  "socket: timeouts, cancellation and late data",
  noLeaks(async (t) => {
    const l = await listen("tcp", "127.0.0.1", 0);
    const c = await connect("127.0.0.1", l.addr.port);
    const s = await l.accept();
    await t.step("a read that times out loses nothing", async () => {
      const err = await rejectsWith(c.read({ timeout: 20 }), "timeout");
      assert(err instanceof TimeoutError);
      assert(err.message.startsWith(`read 127.0.0.1:${l.addr.port}`), err.message);
      await s.write("late");
      assertEquals(text.decode((await c.read({ timeout: 5000 }))!), "late");
    });
    await t.step("deadline and signal", async () => {
      await rejectsWith(c.read({ deadline: Date.now() + 10 }), "timeout");
      const ac = new AbortController();
      setTimeout(() => ac.abort("stop"), 10);
      await rejectsWith(c.read({ signal: ac.signal }), "cancelled");
      await s.write("after");
      assertEquals(text.decode((await c.read())!), "after");
    });
    await t.step("cancelling the reading task", async () => {
      const reader = spawn(() => c.read());
      await sleep(10);
      reader.cancel("bye");
      const err = await rejectsWith(reader, "cancelled");
      assert(err instanceof Cancelled);
      await s.write("kept");
      assertEquals(text.decode((await c.read())!), "kept");
    });
    await t.step("readInto keeps what does not fit, and mixes with read", async () => {
      await s.write("0123456789");
      const dst = new Uint8Array(4);
      assertEquals(await c.readInto(dst, { timeout: 5000 }), 4);
      assertEquals(text.decode(dst), "0123");
      assertEquals(await c.readInto(dst), 4);
      assertEquals(text.decode(dst), "4567");
      assertEquals(text.decode((await c.read())!), "89");
      const err = await rejectsWith(c.readInto(dst, { timeout: 20 }), "timeout");
      assert(err.message.startsWith("read 127.0.0.1:"), err.message);
      await s.write("late");
      assertEquals(await c.readInto(dst), 4);
      assertEquals(text.decode(dst), "late");
      // Given up, then continued with another buffer, or with read().
      await rejectsWith(c.readInto(dst, { timeout: 20 }), "timeout");
      await s.write("abcdef");
      const other = new Uint8Array(2);
      assertEquals(await c.readInto(other), 2);
      assertEquals(text.decode(other), "ab");
      // The rest, whether a given-up read took part of it (deno) or not (ffi).
      assertEquals(await readText(c, 4), "cdef");
      await rejectsWith(c.readInto(dst, { timeout: 20 }), "timeout");
      await s.write("xyz");
      assertEquals(text.decode((await c.read())!), "xyz");
    });
    await t.step("a spent budget fails before touching the socket", async () => {
      await rejectsWith(c.write("lost", { timeout: 0 }), "timeout");
      await rejectsWith(c.write("lost", { signal: AbortSignal.abort("no") }), "cancelled");
      await rejectsWith(
        spawn((task) => {
          task.cancel("no");
          return c.write("lost");
        }),
        "cancelled",
      );
      assert(!c.closed);
      await s.write("ready");
      await rejectsWith(c.read({ timeout: 0 }), "timeout");
      await c.write("kept");
      assertEquals(await readText(s, 4), "kept");
      assertEquals(await readText(c, 5), "ready");
    });
    await t.step("only one read waits at a time", async () => {
      const first = c.read();
      await assertRejects(() => c.read(), /another read is already waiting/);
      await s.write("1");
      assertEquals(text.decode((await first)!), "1");
    });
    c.close();
    s.close();
    l.close();
  }),
);

Deno.test(
  "socket: concurrent writers never interleave",
  noLeaks(async () => {
    const l = await listen("tcp", "127.0.0.1", 0);
    const c = await connect("127.0.0.1", l.addr.port);
    const s = await l.accept();
    const writers = 8, perWriter = 64, size = 32 * 1024;
    const sending = spawn(() =>
      scope(() => {
        for (let w = 0; w < writers; w++) {
          spawn(async () => {
            const block = new Uint8Array(size).fill(65 + w);
            for (let i = 0; i < perWriter; i++) await c.write(block);
          });
        }
      })
    );
    let pos = 0, current = 0;
    const total = writers * perWriter * size;
    while (pos < total) {
      const chunk = (await s.read())!;
      for (const b of chunk) {
        if (pos % size === 0) current = b;
        else assertEquals(b, current, `byte ${pos} inside a block of ${current}`);
        pos++;
      }
    }
    await sending;
    c.close();
    s.close();
    l.close();
  }),
);

Deno.test(
  "socket: half-close and peer reset",
  noLeaks(async (t) => {
    const l = await listen("tcp", "127.0.0.1", 0);
    await t.step("shutdown sends EOF; the other direction keeps working", async () => {
      const c = await connect("127.0.0.1", l.addr.port);
      const s = await l.accept();
      await c.write("request");
      await c.shutdown();
      await c.shutdown(); // idempotent
      await rejectsWith(c.write("more"), "closed", /after shutdown/);
      assertEquals(await readText(s, 100), "request"); // ends at EOF
      assertEquals(await s.read(), null);
      await s.write("response");
      s.close();
      assertEquals(await readText(c, 100), "response");
      c.close();
    });
    await t.step("a peer that closes with unread data resets the connection", async () => {
      const c = await connect("127.0.0.1", l.addr.port);
      const s = await l.accept();
      await c.write("never read");
      await sleep(20);
      s.close(); // unread data: the kernel answers with RST
      await sleep(20);
      // Linux reports the reset to the reader as end of stream (or a reset),
      // and to the next writes as a reset.
      await c.read().catch((e) => assertEquals(e.code, "connection_reset"));
      const err = await rejectsWith(
        (async () => {
          for (let i = 0; i < 100; i++) await c.write("more"), await sleep(1);
        })(),
        "connection_reset",
      );
      assert(
        new RegExp(`^write 127\\.0\\.0\\.1:${l.addr.port}: connection reset`).test(err.message),
      );
      c.close();
    });
    l.close();
  }),
);

Deno.test(
  "socket: listen and connect errors",
  noLeaks(async (t) => {
    await t.step("address in use", async () => {
      const l = await listen("tcp", "127.0.0.1", 0);
      await rejectsWith(
        listen("tcp", "127.0.0.1", l.addr.port),
        "address_in_use",
        new RegExp(`^listen 127\\.0\\.0\\.1:${l.addr.port}: address in use`),
      );
      l.close();
    });
    await t.step("bad port", async () => {
      for (const port of [-1, 65536, 1.5, NaN]) {
        await assertRejects(() => listen("tcp", "127.0.0.1", port), RangeError);
        await assertRejects(() => connect("127.0.0.1", port), RangeError);
      }
    });
    await t.step("connection refused names the address", async () => {
      const l = await listen("tcp", "127.0.0.1", 0);
      const port = l.addr.port;
      l.close();
      await rejectsWith(
        connect("127.0.0.1", port),
        "connection_refused",
        new RegExp(`^connect 127\\.0\\.0\\.1:${port}: connection refused`),
      );
    });
    await t.step("unknown host", async () => {
      const err = await connect("no-such-host.invalid", 80).then(() => undefined, (e) => e);
      assert(/^lookup no-such-host\.invalid: /.test(err?.message), String(err));
      // NotFound when a resolver answered; without one, the system's own error.
      assert(err.code === "not_found" || /EAI_AGAIN|resolution/i.test(err.message), String(err));
    });
    await t.step("non-loopback hosts are refused without the opt-in", async () => {
      for (const host of ["0.0.0.0", "::", "192.0.2.1", "example.com"]) {
        await rejectsWith(
          listen("tcp", host, 0),
          "permission_denied",
          /dangerouslyAllowPublic: true.*LUNET_ALLOW_PUBLIC=1/,
        );
      }
      assert(isLoopback("127.1.2.3") && isLoopback("::1") && isLoopback("localhost"));
    });
    await t.step("the opt-in lets the bind through to the system", async () => {
      // 192.0.2.1 (TEST-NET-1) is not on this machine, so the bind fails in
      // the kernel instead of the loopback check; nothing public is opened.
      const err = await listen("tcp", "192.0.2.1", 0, { dangerouslyAllowPublic: true })
        .then((l) => (l.close(), undefined), (e) => e);
      assert(err === undefined || err.code !== "permission_denied", String(err));
    });
  }),
);

Deno.test(
  "socket: Unix socket files",
  noLeaks(async (t) => {
    const { dir, path } = await tempPath("stale.sock");
    await t.step("a stale socket file is replaced", async () => {
      // A process that exits without closing its listener leaves the file behind.
      const script = `Deno.listen({ transport: "unix", path: ${
        JSON.stringify(path)
      } }); Deno.exit(0);`;
      await new Deno.Command(Deno.execPath(), { args: ["eval", script] }).output();
      assert((await Deno.lstat(path)).isSocket);
      const l = await listen("unix", path);
      const c = await connect(path);
      const s = await l.accept();
      c.close();
      s.close();
      l.close();
    });
    await t.step("a regular file is never removed", async () => {
      const file = `${dir}/regular`;
      await Deno.writeTextFile(file, "keep me");
      await rejectsWith(listen("unix", file), "already_exists", /regular/);
      assertEquals(await Deno.readTextFile(file), "keep me");
    });
    await Deno.remove(dir, { recursive: true });
  }),
);

Deno.test(
  "socket: backpressure bounds a writer whose peer never reads",
  noLeaks(async () => {
    const l = await listen("tcp", "127.0.0.1", 0);
    const c = await connect("127.0.0.1", l.addr.port);
    const s = await l.accept();
    const block = new Uint8Array(256 * 1024);
    let written = 0;
    const rssBefore = Deno.memoryUsage().rss;
    try {
      for (;;) {
        await s.write(block, { timeout: 200 });
        written += block.length;
        assert(written < 256 * 1024 * 1024, "writes never blocked");
      }
    } catch (err) {
      assertEquals((err as { code?: string }).code, "timeout");
    }
    // The kernel's socket buffers took a few MiB; the writer then waited.
    assert(written < 64 * 1024 * 1024, `${written} bytes accepted without a reader`);
    assert(s.closed, "a write interrupted part-way closes the connection");
    assert(Deno.memoryUsage().rss - rssBefore < 128 * 1024 * 1024);
    c.close();
    l.close();
  }),
);

Deno.test(
  "socket: a listener's read buffer size caps each read",
  noLeaks(async () => {
    const l = await listen("tcp", "127.0.0.1", 0, { readBufferSize: 100 });
    const c = await connect("127.0.0.1", l.addr.port, { readBufferSize: 7 });
    const s = await l.accept();
    await c.write(new Uint8Array(1000));
    let got = 0;
    while (got < 1000) {
      const chunk = (await s.read())!;
      assert(chunk.length <= 100);
      got += chunk.length;
    }
    await s.write(new Uint8Array(50));
    got = 0;
    while (got < 50) {
      const chunk = (await c.read())!;
      assert(chunk.length <= 7);
      got += chunk.length;
    }
    await assertRejects(() => listen("tcp", "127.0.0.1", 0, { readBufferSize: 0 }), RangeError);
    c.close();
    s.close();
    l.close();
  }),
);

Deno.test(
  "socket: closing the writer's conn fails later writes with ClosedError",
  noLeaks(async () => {
    const l = await listen("tcp", "127.0.0.1", 0);
    const c = await connect("127.0.0.1", l.addr.port);
    const s = await l.accept();
    c.close();
    const err = await c.write("x").catch((e) => e);
    assert(err instanceof ClosedError);
    s.close();
    l.close();
  }),
);

Deno.test(
  "socket: close() hands a waiting accept the connection the system already took, never drops it",
  noLeaks(async () => {
    // The client's connect resolves once the handshake is done; the
    // listener closes in that same turn. A connection the runtime took
    // by then goes to the waiting accept and is served; one still in the
    // kernel's queue is reset by the kernel. None ends with a clean close
    // and no answer.
    const outcomes = new Map<string, number>();
    for (let round = 0; round < 50; round++) {
      const l = await listen("tcp", "127.0.0.1", 0);
      const server = spawn(async () => {
        try {
          const conn = await l.accept();
          await conn.write("hi");
          conn.close();
          return "served";
        } catch (err) {
          if (err instanceof ClosedError) return "closed";
          throw err;
        }
      });
      const client = await Deno.connect({ hostname: "127.0.0.1", port: l.addr.port });
      l.close();
      const buf = new Uint8Array(8);
      let got: string;
      try {
        const n = await client.read(buf);
        got = n === null ? "end" : text.decode(buf.subarray(0, n));
      } catch (err) {
        got = (err as Error).name;
      }
      client.close();
      const outcome = `${await server}: ${got}`;
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      await rejectsWith(l.accept(), "closed");
    }
    const allowed = new Set(["served: hi", "closed: ConnectionReset"]);
    const seen = [...outcomes].map(([o, n]) => `${o} ×${n}`).join(", ");
    assert([...outcomes.keys()].every((o) => allowed.has(o)), seen);
    assert((outcomes.get("served: hi") ?? 0) > 0, seen);
  }),
);

function openFds(): number {
  let n = 0;
  for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
  return n;
}

Deno.test(
  "socket: connects given up by their timeout release their sockets at once",
  noLeaks(async () => {
    // A listener that never accepts, with its queue full, drops most new
    // SYNs: connects to it hang until the kernel gives up (about two
    // minutes). The few it lets through stay queued, keeping it full.
    const l = await listen("tcp", "127.0.0.1", 0, { backlog: 1 });
    const queued: Conn[] = [];
    try {
      const before = openFds();
      let timedOut = 0;
      for (let i = 0; i < 40; i++) {
        const c = await connect("127.0.0.1", l.addr.port, { timeout: 20 }).catch((e) => e);
        if (c instanceof Conn) queued.push(c);
        else if (c.code === "timeout") timedOut++;
        else throw c;
      }
      assert(timedOut >= 10, `only ${timedOut} of 40 connects timed out`);
      await sleep(50);
      assertEquals(openFds() - queued.length, before);
    } finally {
      for (const c of queued) c.close();
      l.close();
    }
  }),
);

Deno.test(
  "socket: a TCP connect without a port is a type error and fails at once naming the port",
  noLeaks(async () => {
    // @ts-expect-error: TCP needs a port; only a path containing "/" goes without one.
    const err = await connect("127.0.0.1").then(() => undefined, (e) => e);
    assert(err instanceof TypeError, String(err));
    assertEquals(
      err.message,
      'connect 127.0.0.1: a port is required (or a path containing "/" for a Unix socket)',
    );
  }),
);

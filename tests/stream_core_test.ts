/**
 * The stream core behind `Conn`, on both backends over real TCP pairs:
 * its read engines (readiness waits, an in-flight read, a caller's own
 * buffer through readSome / readNow) with reads split at arbitrary
 * boundaries, timed-out and cancelled reads that lose nothing, and the
 * write paths (synchronous, parked, queued, budgeted, half-close, detach).
 */
import {
  deepEqual as assertEquals,
  ok as assert,
  rejects as assertRejects,
} from "node:assert/strict";
import { Cancelled, ClosedError, sleep, spawn, TimeoutError } from "../mod.ts";
import { ReadScratch } from "../src/_read_scratch.ts";
import { StreamCore } from "../src/_stream_core.ts";
import { ffiSupported } from "../src/_backend/ffi/mod.ts";
import { selectBackend } from "../src/_backend/select.ts";
import { noLeaks } from "./leak.ts";
import { checkPattern, patternAt } from "./net_helpers.ts";

const backends = ffiSupported() ? ["deno", "ffi"] as const : ["deno"] as const;
const text = new TextDecoder();
const bytes = (s: string) => new TextEncoder().encode(s);

/** Two connected cores over loopback TCP on the named backend. */
async function pair(
  name: "deno" | "ffi",
  readBufferSize?: number,
): Promise<[StreamCore, StreamCore]> {
  const backend = selectBackend(name);
  const l = await backend.listen({ addr: { transport: "tcp", hostname: "127.0.0.1", port: 0 } });
  try {
    const [client, server] = await Promise.all([backend.connect(l.addr), l.accept()]);
    const scratch = new ReadScratch();
    return [
      new StreamCore(client, readBufferSize, scratch),
      new StreamCore(server, readBufferSize, scratch),
    ];
  } finally {
    l.close();
  }
}

/** A small deterministic generator of sizes in [1, max]. */
function sizes(seed: number, max: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return 1 + (x % max);
  };
}

/** Writes `total` pattern bytes in chunks of random size, yielding between some. */
async function writeSplit(core: StreamCore, total: number, seed: number): Promise<void> {
  const next = sizes(seed, 3000);
  for (let pos = 0; pos < total;) {
    const n = Math.min(next(), total - pos);
    await core.write(patternAt(pos, n));
    pos += n;
    if (n % 3 === 0) await sleep(0);
  }
}

/** One read by the caller-managed engine: readNow and onReadable, or readSome. */
async function readOwnWay(core: StreamCore, dst: Uint8Array): Promise<number | null> {
  if (!core.pollable) return core.readSome(dst);
  for (;;) {
    const n = core.readNow(dst);
    if (n !== -1) return n;
    await new Promise<void>((resolve) => core.onReadable(resolve));
  }
}

for (const name of backends) {
  Deno.test(
    `stream core (${name}): reads split across arbitrary boundaries deliver every byte in order`,
    noLeaks(async (t) => {
      const total = 300_000;
      const engines: Record<string, (core: StreamCore, next: () => number) => Promise<number>> = {
        "read()": async (core) => {
          const chunk = await core.read();
          if (chunk === null) return -1;
          checkPattern(chunk, got);
          return chunk.length;
        },
        "readInto()": async (core, next) => {
          const dst = new Uint8Array(next());
          const n = await core.readInto(dst);
          if (n === null) return -1;
          checkPattern(dst.subarray(0, n), got);
          return n;
        },
        "readSome / readNow": async (core, next) => {
          const dst = new Uint8Array(next());
          const n = await readOwnWay(core, dst);
          if (n === null) return -1;
          checkPattern(dst.subarray(0, n), got);
          return n;
        },
        "all three, mixed": (core, next) => {
          const pick = next() % 3;
          return pick === 0
            ? engines["read()"](core, next)
            : pick === 1
            ? engines["readInto()"](core, next)
            : engines["readSome / readNow"](core, next);
        },
      };
      let got = 0;
      for (const [engine, readOnce] of Object.entries(engines)) {
        await t.step(engine, async () => {
          const [a, b] = await pair(name, 16384);
          a.setNoDelay(true);
          const writing = spawn(async () => {
            await writeSplit(a, total, engine.length);
            await a.shutdown();
          });
          const next = sizes(engine.length * 7, 5000);
          got = 0;
          for (;;) {
            const n = await readOnce(b, next);
            if (n === -1) break;
            got += n;
          }
          assertEquals(got, total);
          await writing;
          a.close();
          b.close();
        });
      }
    }),
  );

  Deno.test(
    `stream core (${name}): a timed-out or cancelled read loses no data`,
    noLeaks(async (t) => {
      await t.step("read() after a timed-out read()", async () => {
        const [a, b] = await pair(name);
        await assertRejects(b.read({ timeout: 20 }), TimeoutError);
        await a.write("abc");
        assertEquals(text.decode((await b.read({ timeout: 2000 }))!), "abc");
        a.close();
        b.close();
      });
      await t.step("a smaller buffer after a timed-out readInto, then readSome", async () => {
        const [a, b] = await pair(name);
        await assertRejects(b.readInto(new Uint8Array(64), { timeout: 20 }), TimeoutError);
        await a.write("0123456789");
        await sleep(20); // the given-up read (deno) has landed by now
        const small = new Uint8Array(4);
        assertEquals(await b.readInto(small, { timeout: 2000 }), 4);
        assertEquals(text.decode(small), "0123");
        const rest = new Uint8Array(16);
        let n = 0;
        while (n < 6) n += (await readOwnWay(b, rest.subarray(n)))!;
        assertEquals(text.decode(rest.subarray(0, n)), "456789");
        a.close();
        b.close();
      });
      await t.step("read() after the reading task was cancelled", async () => {
        const [a, b] = await pair(name);
        const reader = spawn(() => b.read());
        await sleep(10);
        reader.cancel();
        await assertRejects(reader.then(() => {}), Cancelled);
        await a.write("after");
        assertEquals(text.decode((await b.read({ timeout: 2000 }))!), "after");
        a.close();
        b.close();
      });
      await t.step("only one read waits at a time; close wakes it", async () => {
        const [a, b] = await pair(name);
        const first = b.read();
        await assertRejects(b.read(), /another read is already waiting/);
        b.close();
        await assertRejects(first, ClosedError);
        a.close();
      });
    }),
  );

  Deno.test(
    `stream core (${name}): write paths`,
    noLeaks(async (t) => {
      await t.step(
        "a parked write completes when the peer reads; queued writes follow it",
        async () => {
          const [a, b] = await pair(name);
          const total = 16 * 1024 * 1024;
          const big = new Uint8Array(total);
          for (let pos = 0; pos < total; pos += 256 * 1024) {
            big.set(patternAt(pos, 256 * 1024), pos);
          }
          let done = false;
          const writing = a.write(big).then(() => done = true);
          const tail = a.write("tail");
          await sleep(50);
          assert(!done, "the write should wait for the peer to read");
          let got = 0;
          const buf = new Uint8Array(64 * 1024);
          while (got < total) {
            const n = await b.readInto(buf.subarray(0, Math.min(buf.length, total - got)));
            assert(n !== null, `end of stream after ${got} bytes`);
            checkPattern(buf.subarray(0, n), got);
            got += n;
          }
          await writing;
          await tail;
          const end = new Uint8Array(4);
          let n = 0;
          while (n < 4) n += (await b.readInto(end.subarray(n)))!;
          assertEquals(text.decode(end), "tail");
          a.close();
          b.close();
        },
      );
      await t.step("writeNow: taken at once on a backend with tryWrite", async () => {
        const [a, b] = await pair(name);
        const pending = a.writeNow(bytes("now"));
        if (name === "ffi") assertEquals(pending, undefined);
        else await pending;
        assertEquals(text.decode((await b.read({ timeout: 2000 }))!), "now");
        a.close();
        b.close();
      });
      await t.step("a write given up part-way closes the stream", async () => {
        const [a, b] = await pair(name);
        const big = new Uint8Array(32 * 1024 * 1024);
        await assertRejects(a.write(big, { timeout: 50 }), TimeoutError);
        assert(a.closed);
        await assertRejects(a.write("more"), ClosedError);
        b.close();
      });
      await t.step("shutdown sends end of stream; writes after it fail", async () => {
        const [a, b] = await pair(name);
        await a.write("last");
        await a.shutdown();
        await assertRejects(a.write("x"), /after shutdown/);
        let out = "";
        for (let c; (c = await b.read({ timeout: 2000 })) !== null;) out += text.decode(c);
        assertEquals(out, "last");
        await b.write("still open");
        assertEquals(text.decode((await a.read({ timeout: 2000 }))!), "still open");
        a.close();
        b.close();
      });
      await t.step("detach refuses a busy stream and hands over an idle one", async () => {
        const [a, b] = await pair(name);
        const reading = b.read();
        assert(!b.closed);
        let refused = false;
        try {
          b.detach("upgrade");
        } catch (err) {
          refused = /in flight/.test((err as Error).message);
        }
        assert(refused);
        await a.write("x");
        await reading;
        const handle = b.detach("upgrade");
        assert(b.closed);
        await assertRejects(b.read(), ClosedError);
        handle.close();
        a.close();
      });
    }),
  );
}

import { deepEqual as assertEquals, ok as assert } from "node:assert/strict";
import { ProtocolError, sleep, spawn } from "../mod.ts";
import { BufReader, BufWriter } from "../src/bufio.ts";
import { type Conn, connect, listen } from "../src/socket.ts";
import { noLeaks } from "./leak.ts";

const text = new TextDecoder();

async function pair(): Promise<{ client: Conn; server: Conn; close(): void }> {
  const l = await listen("tcp", "127.0.0.1", 0);
  const client = await connect("127.0.0.1", l.addr.port);
  const server = await l.accept();
  l.close();
  return {
    client,
    server,
    close() {
      client.close();
      server.close();
    },
  };
}

async function protocolError(p: Promise<unknown>): Promise<ProtocolError> {
  const err = await p.then(() => undefined, (e) => e);
  assert(err instanceof ProtocolError, `expected ProtocolError, got ${err}`);
  return err;
}

Deno.test(
  "bufio: BufReader over a socket",
  noLeaks(async (t) => {
    await t.step("readLine strips LF and CRLF, across chunk boundaries", async () => {
      const { client, server, close } = await pair();
      const r = new BufReader(server);
      const feeding = spawn(async () => {
        for (const piece of ["GET / HTTP/1.1\r", "\nHost: x\n", "\r\n", "last"]) {
          await client.write(piece);
          await sleep(5);
        }
        await client.shutdown();
      });
      assertEquals(await r.readLine(), "GET / HTTP/1.1");
      assertEquals(await r.readLine(), "Host: x");
      assertEquals(await r.readLine(), "");
      assertEquals(await r.readLine(), "last");
      assertEquals(await r.readLine(), null);
      await feeding;
      close();
    });
    await t.step("a source with read() only", async () => {
      const { client, server, close } = await pair();
      const r = new BufReader({ read: (opts) => server.read(opts) });
      await client.write("alpha\nbeta\n");
      await client.write(new Uint8Array(10_000).fill(120));
      await client.shutdown();
      assertEquals([await r.readLine(), await r.readLine()], ["alpha", "beta"]);
      assertEquals((await r.readExactly(10_000)).filter((b) => b === 120).length, 10_000);
      assertEquals(await r.read(), null);
      close();
    });
    await t.step("readLine past max throws ProtocolError", async () => {
      const { client, server, close } = await pair();
      const r = new BufReader(server);
      await client.write("x".repeat(100) + "\nok\n");
      await protocolError(r.readLine({ max: 50 }));
      close();
      const p2 = await pair();
      const r2 = new BufReader(p2.server);
      await p2.client.write("12345\r\n");
      assertEquals(await r2.readLine({ max: 5 }), "12345"); // exactly max is fine
      p2.close();
    });
    await t.step("readUntil with multi-byte delimiters split across chunks", async () => {
      const { client, server, close } = await pair();
      const r = new BufReader(server);
      const feeding = spawn(async () => {
        for (const piece of ["a=1&b", "=2&&", "&c=3&", "&&tail"]) {
          await client.write(piece);
          await sleep(5);
        }
        await client.shutdown();
      });
      assertEquals(text.decode((await r.readUntil("&&&"))!), "a=1&b=2");
      assertEquals(text.decode((await r.readUntil("&&&"))!), "c=3");
      const err = await protocolError(r.readUntil("&&&"));
      assertEquals(text.decode(err.partial!), "tail");
      assertEquals(await r.readUntil("&&&"), null);
      await feeding;
      close();
    });
    await t.step("readUntil past max throws ProtocolError", async () => {
      const { client, server, close } = await pair();
      const r = new BufReader(server);
      await client.write("abcdefghij;");
      await protocolError(r.readUntil(";", { max: 5 }));
      close();
    });
    await t.step("readExactly, and EOF before n bytes carries the partial bytes", async () => {
      const { client, server, close } = await pair();
      const r = new BufReader(server);
      const writer = spawn(async () => {
        await client.write(new Uint8Array(300_000).fill(7)); // more than socket buffers hold
        await client.write("xyz");
        await client.shutdown();
      });
      const big = await r.readExactly(300_000);
      await writer;
      assertEquals(big.length, 300_000);
      assert(big.every((b) => b === 7));
      const err = await protocolError(r.readExactly(10));
      assertEquals(text.decode(err.partial!), "xyz");
      assert(/after 3 of 10 bytes/.test(err.message));
      close();
    });
    await t.step("readAll with a limit", async () => {
      const { client, server, close } = await pair();
      await client.write("0123456789");
      await client.shutdown();
      assertEquals(text.decode(await new BufReader(server).readAll({ max: 10 })), "0123456789");
      close();
      const p2 = await pair();
      await p2.client.write("0123456789A");
      await p2.client.shutdown();
      await protocolError(new BufReader(p2.server).readAll({ max: 10 }));
      p2.close();
    });
    await t.step("a timed-out readLine keeps what arrived", async () => {
      const { client, server, close } = await pair();
      const r = new BufReader(server);
      await client.write("partial ");
      const err = await r.readLine({ timeout: 30 }).then(() => undefined, (e) => e);
      assertEquals(err?.code, "timeout");
      await client.write("line\n");
      assertEquals(await r.readLine(), "partial line");
      close();
    });
    await t.step("read returns buffered bytes first; chunks are not overwritten", async () => {
      const { client, server, close } = await pair();
      const r = new BufReader(server);
      await client.write("one\ntwo three");
      await client.shutdown();
      assertEquals(await r.readLine(), "one");
      const rest = await r.read();
      const more = await r.readAll();
      assertEquals(text.decode(rest!) + text.decode(more), "two three");
      assertEquals(await r.read(), null);
      close();
    });
  }),
);

Deno.test(
  "bufio: BufWriter batches small writes",
  noLeaks(async () => {
    const { client, server, close } = await pair();
    const w = new BufWriter(client, 64);
    for (let i = 0; i < 10; i++) await w.write(`${i}`);
    assertEquals(w.buffered, 10);
    await w.write(new Uint8Array(100).fill(46)); // larger than the buffer: flushed, then sent
    assertEquals(w.buffered, 0);
    await w.write("é!");
    await w.flush();
    await client.shutdown();
    const all = text.decode(await new BufReader(server).readAll());
    assertEquals(all, "0123456789" + ".".repeat(100) + "é!");
    close();
  }),
);

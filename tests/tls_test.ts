import { deepEqual as assertEquals, ok as assert } from "node:assert/strict";
import { connectTls, listenTls, startTls } from "../src/tls.ts";
import { connect } from "../src/socket.ts";
import { noLeaks } from "./leak.ts";
import { patternRoundTrip, serveEcho } from "./net_helpers.ts";

const dir = new URL("./fixtures/tls/", import.meta.url).pathname;
const caFile = `${dir}ca.pem`;
const text = new TextDecoder();

async function failure(p: Promise<unknown>): Promise<Error> {
  const err = await p.then((c) => {
    (c as { close(): void }).close();
    return undefined;
  }, (e) => e);
  assert(err instanceof Error, "expected a failure");
  return err;
}

Deno.test(
  "tls: listenTls, connectTls and startTls",
  noLeaks(async (t) => {
    const failures: string[] = [];
    const l = await listenTls("127.0.0.1", 0, {
      certFile: `${dir}leaf.pem`,
      keyFile: `${dir}leaf.key`,
    });
    const server = serveEcho(l, (err) => failures.push(String(err)));
    const port = l.addr.port;

    await t.step("echo with a custom CA (file and PEM)", async () => {
      const c = await connectTls("localhost", port, { caFile, timeout: 10_000 });
      await c.write("over tls");
      assertEquals(text.decode((await c.read())!), "over tls");
      c.close();
      const pem = await Deno.readTextFile(caFile);
      const c2 = await connectTls("127.0.0.1", port, { caCerts: [pem] });
      await c2.write("by ip");
      assertEquals(text.decode((await c2.read())!), "by ip");
      c2.close();
    });
    await t.step("64 MiB each way, every byte checked", async () => {
      const c = await connectTls("localhost", port, { caFile });
      const total = 64 * 1024 * 1024;
      assertEquals(await patternRoundTrip(c, total), total);
      c.close();
    });
    await t.step("peer verification is on by default", async () => {
      const err = await failure(connectTls("localhost", port, { timeout: 10_000 }));
      assert(
        /tls handshake|connectTls/.test(err.message) && /127\.0\.0\.1|localhost/.test(err.message),
        err.message,
      );
      assert(/issuer|certificate/i.test(err.message), err.message);
    });
    await t.step("serverName picks the name to verify", async () => {
      const c = await connectTls("127.0.0.1", port, { caFile, serverName: "localhost" });
      c.close();
      const err = await failure(
        connectTls("127.0.0.1", port, { caFile, serverName: "wrong.test" }),
      );
      assert(/name|certificate/i.test(err.message), err.message);
    });
    await t.step("startTls upgrades a plain connection", async () => {
      const plain = await connect("127.0.0.1", port, { backend: "deno" });
      const c = await startTls(plain, { caFile, serverName: "localhost" });
      assert(plain.closed);
      await c.write("upgraded");
      assertEquals(text.decode((await c.read())!), "upgraded");
      c.close();
    });
    await t.step(
      "startTls refuses an ffi connection, naming the fix, and keeps it open",
      async () => {
        const plain = await connect("127.0.0.1", port, { backend: "ffi" });
        const err = await failure(startTls(plain, { caFile, serverName: "localhost" }));
        assert(err instanceof TypeError);
        assert(err.message.includes('connect(host, port, { backend: "deno" })'), err.message);
        assert(err.message.startsWith(`startTls 127.0.0.1:${port}: `), err.message);
        assert(!plain.closed);
        plain.close();
      },
    );
    l.close();
    await server;
    assert(failures.length >= 2, failures.join("\n"));
  }),
);

Deno.test(
  "tls: the hostname check opt-out is explicit",
  noLeaks(async () => {
    const failures: string[] = [];
    const l = await listenTls("127.0.0.1", 0, {
      cert: await Deno.readTextFile(`${dir}other.pem`),
      key: await Deno.readTextFile(`${dir}other.key`),
    });
    const server = serveEcho(l, (err) => failures.push(String(err)));
    const err = await failure(connectTls("localhost", l.addr.port, { caFile }));
    assert(/name|certificate/i.test(err.message), err.message);
    const c = await connectTls("localhost", l.addr.port, {
      caFile,
      dangerouslyDisableHostnameVerification: true,
    });
    await c.write("ok");
    assertEquals(text.decode((await c.read())!), "ok");
    c.close();
    l.close();
    await server;
  }),
);

Deno.test(
  "tls: listenTls follows the loopback rule and needs a certificate",
  noLeaks(async () => {
    const err = await failure(
      listenTls("0.0.0.0", 0, { certFile: `${dir}leaf.pem`, keyFile: `${dir}leaf.key` }),
    );
    assertEquals((err as { code?: string }).code, "permission_denied");
    const missing = await failure(listenTls("127.0.0.1", 0, {}));
    assert(missing instanceof TypeError);
  }),
);

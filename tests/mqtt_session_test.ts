/**
 * lunet/mqtt's session logic against scripted brokers on lunet sockets:
 * a server DISCONNECT, a missing PINGRESP, malformed and oversized
 * packets, deadlines and cancellation, the offline queue, resends after a
 * reconnect, broker topic aliases and limits, and the framer on input
 * split at every byte boundary, compared with mqtt-packet's own parser.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import mqttPacket from "mqtt-packet";
import { sleep, spawn } from "../mod.ts";
import { listen } from "../src/socket.ts";
import { connect, MqttError } from "../src/mqtt/mod.ts";
import { noLeaks } from "./leak.ts";
import { collect, packetsOf, scripted, text } from "./mqtt_helpers.ts";
import { rawPeer } from "./net_helpers.ts";

Deno.test(
  "a server DISCONNECT surfaces as MqttError with its reason code",
  noLeaks(async () => {
    const bye = mqttPacket.generate({
      cmd: "disconnect",
      reasonCode: 0x8b,
      properties: { reasonString: "maintenance" },
    }, { protocolVersion: 5 });
    const broker = await scripted((conn) => conn.write(bye), [0x20, 0x03, 0x00, 0x00, 0x00]);
    const losses: Error[] = [];
    const client = await connect(broker.url, {
      protocolVersion: 5,
      reconnect: false,
      onDisconnect: (e) => losses.push(e),
    });
    const sub = await client.subscribe("x", { timeout: 1000 }).catch((e) => e);
    const err = sub instanceof Error
      ? sub
      : await sub.recv({ timeout: 2000 }).catch((e: Error) => e);
    assert.ok(err instanceof MqttError, String(err));
    assert.equal(err.reasonCode, 0x8b);
    assert.equal(err.reasonString, "maintenance");
    assert.match(err.message, /server shutting down \(0x8b\): maintenance/);
    assert.equal(losses[0], err);
    assert.equal(client.closed, true);
    await client.close();
    await broker.close();
  }),
);

Deno.test(
  "a missing PINGRESP ends the connection",
  noLeaks(async () => {
    const broker = await scripted(() => sleep(3000)); // reads nothing, answers nothing
    const losses: Error[] = [];
    const client = await connect(broker.url, {
      keepalive: 1,
      pingTimeout: 200,
      reconnect: false,
      onDisconnect: (e) => losses.push(e),
    });
    for (let i = 0; i < 100 && !client.closed; i++) await sleep(20);
    assert.equal(losses[0]?.name, "TimeoutError");
    assert.match(losses[0].message, /no PINGRESP/);
    await client.close();
    await broker.close();
  }),
);

for (
  const [name, bytes] of [
    ["an oversized packet", [0x30, 0xff, 0xff, 0xff, 0x7f]],
    ["a malformed length", [0x30, 0xff, 0xff, 0xff, 0xff, 0x01]],
    ["reserved flags set", [0x62 | 0x01, 0x02, 0x00, 0x01]],
    ["a QoS of 3", [0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]],
  ] as const
) {
  Deno.test(
    `${name} from the broker ends the connection with ProtocolError`,
    noLeaks(async () => {
      const broker = await scripted(async (conn) => {
        await conn.write(new Uint8Array(bytes));
        await sleep(1000);
      });
      const client = await connect(broker.url, { reconnect: false, maxPacketSize: 1 << 20 });
      const sub = await client.subscribe("x").catch((e) => e);
      const err = sub instanceof Error
        ? sub
        : await sub.recv({ timeout: 2000 }).catch((e: Error) => e);
      assert.equal(err.name, "ProtocolError", String(err));
      assert.equal(client.closed, true);
      await client.close();
      await broker.close();
    }),
  );
}

Deno.test(
  "waits are deadline-aware and cancellable; the offline queue is bounded",
  noLeaks(async () => {
    const broker = await scripted(() => sleep(2000)); // never acknowledges anything
    const client = await connect(broker.url, {
      offlineQueue: 2,
      reconnect: { initialDelay: 5000 },
    });
    await assert.rejects(client.publish("t", "x", { qos: 1, timeout: 100 }), { code: "timeout" });
    await assert.rejects(client.subscribe("t", { timeout: 100 }), { code: "timeout" });
    const waiter = spawn(() => client.publish("t", "y", { qos: 2 }));
    await sleep(20);
    waiter.cancel();
    await assert.rejects(Promise.resolve(waiter), { code: "cancelled" });
    await broker.close();
    for (let i = 0; i < 100 && client.connected; i++) await sleep(20);
    const q1 = client.publish("t", "1"), q2 = client.publish("t", "2");
    await assert.rejects(client.publish("t", "3"), { code: "resource_exhausted" });
    await client.close();
    await assert.rejects(q1, { code: "closed" });
    await assert.rejects(q2, { code: "closed" });
    await assert.rejects(client.publish("t", "4"), { code: "closed" });
  }),
);

Deno.test("without --allow-env, connect says that the codec needs it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/probe.ts`;
    const module = new URL("../src/mqtt/mod.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { connect } from ${JSON.stringify(module)};\n` +
        `await connect("mqtt://127.0.0.1:1", { timeout: 1000 })` +
        `.catch((e) => console.log(e.name + ": " + e.message));\n`,
    );
    const config = new URL("../deno.json", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--config", config, "--allow-net", "--allow-read", "--no-prompt", script],
      env: { NO_COLOR: "1" },
      stdout: "piped",
    }).output();
    const line = new TextDecoder().decode(out.stdout).trim();
    assert.match(line, /^PermissionDenied: connect mqtt:\/\/127\.0\.0\.1:1: .*--allow-env/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "in-flight QoS 1/2 resent after a reconnect: PUBLISH with DUP, PUBREL where the PUBREC came",
  noLeaks(async () => {
    const server = await listen("tcp", "127.0.0.1", 0);
    const seen: string[] = [];
    const broker = spawn(async () => {
      // First connection: take both publishes, answer only the QoS 2 one's PUBREC, drop.
      const c1 = await server.accept();
      const p1 = packetsOf(c1, 4);
      assert.equal((await p1.next()).cmd, "connect");
      await p1.send({ cmd: "connack", returnCode: 0, sessionPresent: false });
      const a = await p1.next() as mqttPacket.IPublishPacket;
      const b = await p1.next() as mqttPacket.IPublishPacket;
      seen.push(`${a.cmd} q${a.qos} dup=${a.dup}`, `${b.cmd} q${b.qos} dup=${b.dup}`);
      await p1.send({ cmd: "pubrec", messageId: b.messageId });
      const rel = await p1.next();
      seen.push(rel.cmd);
      c1.close();
      // Second connection, session present: expect the resends, then finish both.
      const c2 = await server.accept();
      const p2 = packetsOf(c2, 4);
      const hello = await p2.next() as mqttPacket.IConnectPacket;
      seen.push(`connect clean=${hello.clean}`);
      await p2.send({ cmd: "connack", returnCode: 0, sessionPresent: true });
      for (let i = 0; i < 2; i++) {
        const p = await p2.next();
        if (p.cmd === "publish") {
          seen.push(`${p.cmd} q${p.qos} dup=${p.dup} same-id=${p.messageId === a.messageId}`);
          await p2.send({ cmd: "puback", messageId: p.messageId });
        } else {
          seen.push(`${p.cmd} same-id=${p.messageId === b.messageId}`);
          await p2.send({ cmd: "pubcomp", messageId: p.messageId });
        }
      }
      await p2.next().catch(() => {}); // until the client disconnects
      c2.close();
    });
    const client = await connect(`mqtt://127.0.0.1:${server.addr.port}`, {
      clientId: "lunet-resend",
      clean: false,
      reconnect: { initialDelay: 20 },
    });
    await Promise.all([
      client.publish("t/1", "one", { qos: 1, timeout: 5000 }),
      client.publish("t/2", "two", { qos: 2, timeout: 5000 }),
    ]);
    await client.close();
    await broker;
    server.close();
    assert.deepEqual(seen.slice(0, 4), [
      "publish q1 dup=false",
      "publish q2 dup=false",
      "pubrel",
      "connect clean=false",
    ]);
    assert.deepEqual(seen.slice(4).sort(), [
      "publish q1 dup=true same-id=true",
      "pubrel same-id=true",
    ]);
  }),
);

Deno.test(
  "MQTT 5 from the broker: topic aliases resolved, receive maximum caps the inflight window",
  noLeaks(async () => {
    const server = await listen("tcp", "127.0.0.1", 0);
    const broker = spawn(async () => {
      const conn = await server.accept();
      const p = packetsOf(conn, 5);
      const hello = await p.next() as mqttPacket.IConnectPacket;
      assert.equal(hello.properties?.topicAliasMaximum, 4);
      await p.send({
        cmd: "connack",
        reasonCode: 0,
        sessionPresent: false,
        properties: { receiveMaximum: 2 },
      });
      const sub = await p.next() as mqttPacket.ISubscribePacket;
      await p.send({ cmd: "suback", messageId: sub.messageId, granted: [1] });
      await p.send(
        {
          cmd: "publish",
          topic: "a/b",
          payload: "1",
          qos: 0,
          retain: false,
          dup: false,
          properties: { topicAlias: 3 },
        } as mqttPacket.IPublishPacket,
      );
      await p.send(
        {
          cmd: "publish",
          topic: "",
          payload: "2",
          qos: 0,
          retain: false,
          dup: false,
          properties: { topicAlias: 3 },
        } as mqttPacket.IPublishPacket,
      );
      // Three QoS 1 publishes with a receive maximum of 2: the third waits for an ack.
      const first = await p.next(), second = await p.next();
      const pending = p.next();
      const early = await Promise.race([
        pending.then(() => "third came early"),
        sleep(200).then(() => "held"),
      ]);
      await p.send({ cmd: "puback", messageId: first.messageId, reasonCode: 0 });
      await p.send({ cmd: "puback", messageId: second.messageId, reasonCode: 0 });
      const third = await pending;
      await p.send({ cmd: "puback", messageId: third.messageId, reasonCode: 0 });
      await p.next().catch(() => {});
      conn.close();
      return early;
    });
    const client = await connect(`mqtt://127.0.0.1:${server.addr.port}`, {
      protocolVersion: 5,
      topicAliasMaximum: 4,
    });
    const sub = await client.subscribe("a/#", { qos: 1 });
    const got = (await collect(sub, 2)).map((m) => `${m.topic}=${text(m)}`);
    assert.deepEqual(got, ["a/b=1", "a/b=2"]);
    await Promise.all([1, 2, 3].map((n) => client.publish("q", `${n}`, { qos: 1, timeout: 5000 })));
    await client.close();
    assert.equal(await broker, "held");
    server.close();
  }),
);

Deno.test("packets split at every byte boundary parse as mqtt-packet parses them whole", async () => {
  const { Framer, loadCodec } = await import("../src/mqtt/_codec.ts");
  await loadCodec("test");
  for (const version of [4, 5] as const) {
    const v5 = version === 5;
    const packets: mqttPacket.Packet[] = [
      { cmd: "connack", returnCode: 0, reasonCode: 0, sessionPresent: true },
      {
        cmd: "publish",
        topic: "a/b",
        payload: Buffer.from("zero"),
        qos: 0,
        retain: false,
        dup: false,
      },
      {
        cmd: "publish",
        topic: "ü/ñ",
        payload: Buffer.alloc(300, 7),
        qos: 1,
        messageId: 7,
        retain: true,
        dup: false,
        ...(v5 ? { properties: { userProperties: { k: "v" }, messageExpiryInterval: 9 } } : {}),
      } as mqttPacket.IPublishPacket,
      {
        cmd: "publish",
        topic: "q2",
        payload: Buffer.from(""),
        qos: 2,
        messageId: 8,
        retain: false,
        dup: true,
      },
      { cmd: "puback", messageId: 3 },
      { cmd: "suback", messageId: 4, granted: [0, 1, 2, 128] },
      { cmd: "pingresp" },
    ];
    const bytes = new Uint8Array(
      Buffer.concat(packets.map((p) => mqttPacket.generate(p, { protocolVersion: version }))),
    );
    const reference: mqttPacket.Packet[] = [];
    const parser = mqttPacket.parser({ protocolVersion: version });
    parser.on("packet", (p: mqttPacket.Packet) => reference.push(p));
    parser.parse(Buffer.from(bytes));
    assert.equal(reference.length, packets.length);
    const plain = (list: unknown[]) => JSON.parse(JSON.stringify(list));
    const framed = (chunks: Uint8Array[]) => {
      const framer = new Framer(version, 1 << 20, "test");
      return plain(chunks.flatMap((c) => framer.push(c.slice())));
    };
    for (let cut = 0; cut <= bytes.length; cut++) {
      assert.deepEqual(
        framed([bytes.subarray(0, cut), bytes.subarray(cut)]),
        plain(reference),
        `v${version} cut at ${cut}`,
      );
    }
    const oneByOne = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
    assert.deepEqual(framed(oneByOne), plain(reference), `v${version} byte by byte`);
  }
});

Deno.test(
  "MQTT 5: a publish larger than the broker's maximum packet size fails alone",
  noLeaks(async () => {
    const connack = mqttPacket.generate(
      {
        cmd: "connack",
        reasonCode: 0,
        sessionPresent: false,
        properties: { maximumPacketSize: 64 },
      },
      { protocolVersion: 5 },
    );
    const broker = await scripted(async (conn) => {
      const p = packetsOf(conn, 5);
      for (;;) {
        const got = await p.next();
        if (got.cmd === "publish" && got.qos === 1) {
          await p.send({ cmd: "puback", messageId: got.messageId, reasonCode: 0 });
        }
      }
    }, [...connack]);
    const client = await connect(broker.url, { protocolVersion: 5 });
    for (const qos of [0, 1] as const) {
      await assert.rejects(
        client.publish("big", new Uint8Array(100), { qos }),
        { code: "message_too_long" },
      );
    }
    await client.publish("small", "fits", { qos: 1, timeout: 2000 });
    assert.equal(client.connected, true);
    await client.close();
    await broker.close();
  }),
);

Deno.test(
  "a peer that answers CONNECT with anything but CONNACK fails connect at once with ProtocolError",
  noLeaks(async () => {
    // The first byte of "HTTP/1.1 400" reads as a PUBACK whose body has not come yet.
    const server = rawPeer(() => ({ reply: "HTTP/1.1 400 Bad Request\r\n\r\n" }));
    try {
      const started = Date.now();
      const err = await connect(`mqtt://127.0.0.1:${server.port}`, { timeout: 10_000 })
        .then(() => undefined, (e) => e);
      assert.equal(err?.name, "ProtocolError", String(err));
      assert.match(
        err.message,
        /^connect mqtt:\/\/127\.0\.0\.1:\d+: expected CONNACK, got puback$/,
      );
      assert.ok(Date.now() - started < 5_000, `${Date.now() - started} ms`);
    } finally {
      await server.close();
    }
  }),
);

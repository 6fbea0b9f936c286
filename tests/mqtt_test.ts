/**
 * lunet/mqtt against real peers: Mosquitto on 127.0.0.1:1883 (`.ci/run`
 * starts it), Mosquitto children of the test's own (restart, WebSocket),
 * Aedes in-process (so the suite also runs where Mosquitto is absent),
 * Debian's mosquitto_pub/mosquitto_sub and MQTT.js as the other client,
 * and scripted brokers on lunet sockets for the failure paths.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createServer, type Server } from "node:net";
import { sleep, spawn } from "../mod.ts";
import { listen } from "../src/socket.ts";
import { connect, MqttError, type MqttMessage, type Subscription } from "../src/mqtt/mod.ts";
import { checkTopicFilter, matchedFilter, topicMatches } from "../src/mqtt/_topic.ts";
import { noLeaks } from "./leak.ts";
import mqttPacket from "mqtt-packet";

const SYSTEM = "mqtt://127.0.0.1:1883";
const text = (m: MqttMessage) => new TextDecoder().decode(m.payload);
const uid = () => `lunet-test/${crypto.randomUUID().slice(0, 8)}`;
const opts = { sanitizeOps: false, sanitizeResources: false };

async function portOpen(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}
const haveMosquitto = await portOpen(1883);
const haveBinary = async (name: string) => {
  try {
    return (await new Deno.Command("which", { args: [name], stdout: "null" }).output()).success;
  } catch {
    return false;
  }
};
const haveClients = await haveBinary("mosquitto_pub") && await haveBinary("mosquitto_sub");
const haveDaemon = await haveBinary("mosquitto");

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A Mosquitto child process of this test on `port` (and a WebSocket listener on `wsPort`). */
async function ownMosquitto(
  port: number,
  wsPort?: number,
  tls?: { port: number; cert: string; key: string },
) {
  const dir = await Deno.makeTempDir();
  const conf = `${dir}/m.conf`;
  let body = `listener ${port} 127.0.0.1\nallow_anonymous true\n`;
  if (wsPort) body += `listener ${wsPort} 127.0.0.1\nprotocol websockets\n`;
  if (tls) {
    // Copies the broker (which drops to its own user) can read.
    for (const [name, from] of [["cert.pem", tls.cert], ["key.pem", tls.key]]) {
      await Deno.copyFile(from, `${dir}/${name}`);
      await Deno.chmod(`${dir}/${name}`, 0o644);
    }
    await Deno.chmod(dir, 0o755);
    body += `listener ${tls.port} 127.0.0.1\ncertfile ${dir}/cert.pem\nkeyfile ${dir}/key.pem\n`;
  }
  await Deno.writeTextFile(conf, body);
  const child = new Deno.Command("mosquitto", {
    args: ["-c", conf],
    stdout: "null",
    stderr: "null",
  })
    .spawn();
  for (const p of [port, wsPort, tls?.port].filter((p) => p !== undefined)) {
    for (let i = 0; i < 100 && !(await portOpen(p)); i++) await sleep(20);
  }
  return {
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      for (let i = 0; i < 100 && (await portOpen(port)); i++) await sleep(20);
    },
    async remove() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Aedes in-process on a loopback port. */
async function aedes(): Promise<{ url: string; close(): Promise<void> }> {
  // deno-lint-ignore no-import-prefix
  const { Aedes } = await import("npm:aedes@^1.2");
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async close() {
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function collect(sub: Subscription, n: number, timeout = 5000): Promise<MqttMessage[]> {
  const out: MqttMessage[] = [];
  const deadline = Date.now() + timeout;
  while (out.length < n) out.push(await sub.recv({ deadline }));
  return out;
}

Deno.test("topic names and filters are checked before anything is sent", () => {
  for (const bad of ["", "a/#/b", "a/b#", "a+/b", "$share/g", "$share//t", "$share/g+/t", "a\0b"]) {
    assert.throws(() => checkTopicFilter(bad), TypeError, bad);
  }
  for (const good of ["#", "+", "a/+/c", "a/#", "/", "$share/g/a/#", "$SYS/#"]) {
    checkTopicFilter(good);
  }
  const cases: Array<[string, string, boolean]> = [
    ["a/+/c", "a/b/c", true],
    ["a/+", "a/", true],
    ["a/#", "a", true],
    ["a/#", "a/b/c", true],
    ["+/+", "/x", true],
    ["#", "$SYS/x", false],
    ["+/x", "$SYS/x", false],
    ["$SYS/#", "$SYS/x", true],
    ["a/b", "a/b/c", false],
    ["a/+/c", "a/b/d", false],
  ];
  for (const [f, t, want] of cases) assert.equal(topicMatches(f, t), want, `${f} ~ ${t}`);
  assert.equal(matchedFilter("$share/g/a/+"), "a/+");
});

async function roundTrips(url: string, version: 4 | 5, backend?: "deno" | "ffi") {
  const topic = uid();
  const client = await connect(url, { protocolVersion: version, backend });
  try {
    const sub = await client.subscribe(`${topic}/#`, { qos: 2 });
    assert.deepEqual(sub.granted, [2]);
    for (const qos of [0, 1, 2] as const) {
      await client.publish(`${topic}/q${qos}`, `payload ${qos}`, { qos });
      const msg = await sub.recv({ timeout: 3000 });
      assert.equal(msg.topic, `${topic}/q${qos}`);
      assert.equal(text(msg), `payload ${qos}`);
      assert.equal(msg.qos, qos);
    }
    await assert.rejects(client.publish(`${topic}/+`, "x"), TypeError);
    await assert.rejects(client.subscribe(`${topic}/#/x`), TypeError);
    await client.publish(`${topic}/kept`, "retained", { qos: 1, retain: true });
    const later = await connect(url, { protocolVersion: version });
    const late = await later.subscribe(`${topic}/kept`, { qos: 1 });
    const kept = await late.recv({ timeout: 3000 });
    assert.equal(kept.retain, true);
    assert.equal(text(kept), "retained");
    await client.publish(`${topic}/kept`, "", { qos: 1, retain: true }); // clear it
    await late.unsubscribe();
    await sub.unsubscribe();
    await later.close();
  } finally {
    await client.close();
  }
}

for (const version of [4, 5] as const) {
  Deno.test({
    name: `QoS 0/1/2 round trips and retained messages through Mosquitto (MQTT ${version})`,
    ignore: !haveMosquitto,
    fn: noLeaks(() => roundTrips(SYSTEM, version)),
  });
}

for (const backend of ["deno", "ffi"] as const) {
  Deno.test({
    name: `the ${backend} socket backend carries MQTT (Mosquitto, MQTT 5)`,
    ignore: !haveMosquitto || (backend === "ffi" && Deno.build.os !== "linux"),
    fn: noLeaks(() => roundTrips(SYSTEM, 5, backend)),
  });
}

// Aedes speaks MQTT 3.1.1 (it has no MQTT 5.0 session layer).
Deno.test({
  name: `QoS 0/1/2 round trips and retained messages through Aedes (MQTT 3.1.1)`,
  ...opts,
  fn: noLeaks(async () => {
    const broker = await aedes();
    try {
      await roundTrips(broker.url, 4);
    } finally {
      await broker.close();
    }
  }),
});

Deno.test({
  name: "a will message is published on an abrupt disconnect",
  ignore: !haveMosquitto,
  fn: noLeaks(async () => {
    for (const version of [4, 5] as const) {
      const topic = `${uid()}/status`;
      const watcher = await connect(SYSTEM, { protocolVersion: version });
      const sub = await watcher.subscribe(topic, { qos: 1 });
      const dying = await connect(SYSTEM, {
        protocolVersion: version,
        will: { topic, payload: `gone v${version}`, qos: 1 },
      });
      await dying.close({ sendWill: true });
      assert.equal(text(await sub.recv({ timeout: 5000 })), `gone v${version}`);
      const polite = await connect(SYSTEM, {
        protocolVersion: version,
        will: { topic, payload: "must not appear", qos: 1 },
      });
      await polite.close();
      await assert.rejects(sub.recv({ timeout: 300 }), { code: "timeout" });
      await watcher.close();
    }
  }),
});

Deno.test({
  name: "a persistent session delivers what was published while away",
  ignore: !haveMosquitto,
  fn: noLeaks(async () => {
    for (const version of [4, 5] as const) {
      const topic = uid();
      const clientId = `lunet-persist-${crypto.randomUUID().slice(0, 8)}`;
      const session = { clientId, clean: false, protocolVersion: version, sessionExpiry: 60 };
      const first = await connect(SYSTEM, session);
      await first.subscribe(topic, { qos: 1 });
      await first.close();
      const other = await connect(SYSTEM, { protocolVersion: version });
      for (let i = 0; i < 5; i++) await other.publish(topic, `away ${i}`, { qos: 1 });
      await other.close();
      const back = await connect(SYSTEM, session);
      const sub = await back.subscribe(topic, { qos: 1 });
      const got = (await collect(sub, 5)).map(text);
      assert.deepEqual(got, [0, 1, 2, 3, 4].map((i) => `away ${i}`));
      await back.close();
      // End the session on the broker.
      await (await connect(SYSTEM, { clientId, clean: true, protocolVersion: version })).close();
    }
  }),
});

Deno.test({
  name: "100 clients × 100 messages at QoS 2: no loss, no duplicate",
  ignore: !haveMosquitto,
  fn: noLeaks(async () => {
    // A ring: client i publishes to client i+1, so no broker queue for one
    // client grows past Mosquitto's max_queued_messages (1000).
    const topic = uid();
    const clients = await Promise.all(
      Array.from({ length: 100 }, (_, i) => connect(SYSTEM, { protocolVersion: i % 2 ? 5 : 4 })),
    );
    const subs = await Promise.all(clients.map((c, i) => c.subscribe(`${topic}/${i}`, { qos: 2 })));
    const received = subs.map((sub) => spawn(() => collect(sub, 100, 60_000)));
    await Promise.all(clients.map((c, i) =>
      spawn(async () => {
        const to = `${topic}/${(i + 1) % 100}`;
        for (let n = 0; n < 100; n++) await c.publish(to, `${i}:${n}`, { qos: 2 });
      })
    ));
    const seen = new Set<string>();
    for (const [i, task] of received.entries()) {
      const from = (i + 99) % 100;
      const got = (await task).map(text);
      assert.deepEqual(got, Array.from({ length: 100 }, (_, n) => `${from}:${n}`));
      for (const g of got) seen.add(g);
    }
    assert.equal(seen.size, 10_000);
    await Promise.all(
      subs.map((sub) => assert.rejects(sub.recv({ timeout: 200 }), { code: "timeout" })),
    );
    await Promise.all(clients.map((c) => c.close()));
  }),
});

Deno.test({
  name: "a broker restarted mid-run: reconnect, resubscribe, queued publishes delivered",
  ignore: !haveDaemon,
  fn: noLeaks(async () => {
    const port = freePort();
    let broker = await ownMosquitto(port);
    const url = `mqtt://127.0.0.1:${port}`;
    const losses: Error[] = [];
    const reconnect = { initialDelay: 50, maxDelay: 200 };
    const client = await connect(url, { reconnect, onDisconnect: (e) => losses.push(e) });
    const sub = await client.subscribe("restart/#", { qos: 1 });
    await broker.stop();
    for (let i = 0; i < 100 && client.connected; i++) await sleep(20);
    assert.equal(client.connected, false);
    const queued = client.publish("restart/queued", "while down", { qos: 1 });
    await broker.remove();
    broker = await ownMosquitto(port);
    try {
      await queued;
      for (let i = 0; i < 100 && !client.connected; i++) await sleep(20);
      const peer = await connect(url);
      await sleep(100); // the resubscription's SUBACK
      await peer.publish("restart/after", "back", { qos: 1 });
      const got = (await collect(sub, 2)).map((m) => `${m.topic}=${text(m)}`).sort();
      assert.deepEqual(got, ["restart/after=back", "restart/queued=while down"]);
      assert.ok(losses.length >= 1);
      await peer.close();
    } finally {
      await client.close();
      await broker.stop();
      await broker.remove();
    }
  }),
});

Deno.test({
  name: "interop with mosquitto_pub and mosquitto_sub both ways",
  ignore: !haveMosquitto || !haveClients,
  fn: noLeaks(async () => {
    const topic = uid();
    const client = await connect(SYSTEM, { protocolVersion: 5 });
    const sub = await client.subscribe(`${topic}/in`, { qos: 2 });
    const pub = await new Deno.Command("mosquitto_pub", {
      args: [
        "-h",
        "127.0.0.1",
        "-p",
        "1883",
        "-t",
        `${topic}/in`,
        "-m",
        "from mosquitto_pub",
        "-q",
        "2",
        "-V",
        "5",
      ],
    }).output();
    assert.ok(pub.success, new TextDecoder().decode(pub.stderr));
    assert.equal(text(await sub.recv({ timeout: 5000 })), "from mosquitto_pub");
    const reader = new Deno.Command("mosquitto_sub", {
      args: [
        "-h",
        "127.0.0.1",
        "-p",
        "1883",
        "-t",
        `${topic}/out`,
        "-C",
        "1",
        "-q",
        "1",
        "-W",
        "10",
      ],
      stdout: "piped",
    }).spawn();
    const out = reader.output();
    for (let i = 0; i < 50; i++) {
      await client.publish(`${topic}/out`, "from lunet", { qos: 1, retain: true });
      const done = await Promise.race([out.then(() => true), sleep(100).then(() => false)]);
      if (done) break;
    }
    const result = await out;
    assert.equal(new TextDecoder().decode(result.stdout).trim(), "from lunet");
    await client.publish(`${topic}/out`, "", { qos: 1, retain: true });
    await client.close();
  }),
});

Deno.test({
  name: "interop with MQTT.js both ways",
  ignore: !haveMosquitto,
  ...opts,
  fn: noLeaks(async () => {
    // deno-lint-ignore no-import-prefix
    const mqttjs = await import("npm:mqtt@^5");
    const topic = uid();
    const peer = await mqttjs.connectAsync(SYSTEM, { protocolVersion: 5 });
    const client = await connect(SYSTEM, { protocolVersion: 5 });
    try {
      const received = new Promise<string>((resolve) => {
        peer.on("message", (_t: string, payload: Buffer) => resolve(payload.toString()));
      });
      await peer.subscribeAsync(`${topic}/to-js`, { qos: 2 });
      await client.publish(`${topic}/to-js`, "hello MQTT.js", {
        qos: 2,
        properties: { userProperties: { from: "lunet" } },
      });
      assert.equal(await received, "hello MQTT.js");
      const sub = await client.subscribe(`${topic}/to-lunet`, { qos: 1 });
      await peer.publishAsync(`${topic}/to-lunet`, "hello lunet", {
        qos: 1,
        properties: { userProperties: { from: "mqtt.js" }, contentType: "text/plain" },
      });
      const msg = await sub.recv({ timeout: 5000 });
      assert.equal(text(msg), "hello lunet");
      assert.deepEqual({ ...msg.properties?.userProperties }, { from: "mqtt.js" });
      assert.equal(msg.properties?.contentType, "text/plain");
    } finally {
      await client.close();
      await peer.endAsync();
    }
  }),
});

Deno.test({
  name: "MQTT 5: topic aliases, message expiry, shared subscriptions",
  ignore: !haveMosquitto,
  fn: noLeaks(async () => {
    const topic = uid();
    const a = await connect(SYSTEM, { protocolVersion: 5, topicAliasMaximum: 10 });
    const b = await connect(SYSTEM, { protocolVersion: 5 });
    const shareA = await a.subscribe(`$share/g/${topic}/shared`, { qos: 1 });
    const shareB = await b.subscribe(`$share/g/${topic}/shared`, { qos: 1 });
    const aliased = await connect(SYSTEM, { protocolVersion: 5, autoTopicAlias: true });
    for (let i = 0; i < 20; i++) {
      await aliased.publish(`${topic}/shared`, `m${i}`, {
        qos: 1,
        properties: { messageExpiryInterval: 60 },
      });
    }
    const drain = async (sub: Subscription) => {
      const out: string[] = [];
      for (;;) {
        const m = await sub.recv({ timeout: 500 }).catch(() => undefined);
        if (!m) return out;
        assert.ok(m.properties!.messageExpiryInterval! <= 60);
        out.push(text(m));
      }
    };
    const [gotA, gotB] = await Promise.all([drain(shareA), drain(shareB)]);
    assert.equal(new Set([...gotA, ...gotB]).size, 20);
    assert.equal(gotA.length + gotB.length, 20);
    const fromA = gotA.length;
    assert.ok(fromA > 0 && fromA < 20, `both members got messages (a: ${fromA})`);
    await Promise.all([a, b, aliased].map((c) => c.close()));
  }),
});

/** A scripted broker: answers CONNACK, then runs `script` on the connection. */
async function scripted(
  script: (conn: import("../src/socket.ts").Conn) => Promise<void>,
  connack = [0x20, 0x02, 0x00, 0x00],
) {
  const server = await listen("tcp", "127.0.0.1", 0);
  const task = spawn(async () => {
    const conn = await server.accept();
    try {
      await conn.read();
      await conn.write(new Uint8Array(connack));
      await sleep(50);
      await script(conn);
    } finally {
      conn.close();
    }
  });
  return {
    url: `mqtt://127.0.0.1:${server.addr.port}`,
    async close() {
      server.close();
      await task.catch(() => {});
    },
  };
}

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

Deno.test({
  name: "the WebSocket transport (ws://) through Mosquitto",
  ignore: !haveDaemon,
  fn: noLeaks(async () => {
    const [port, wsPort] = [freePort(), freePort()];
    const broker = await ownMosquitto(port, wsPort);
    try {
      const client = await connect(`ws://127.0.0.1:${wsPort}/mqtt`, { protocolVersion: 5 });
      const sub = await client.subscribe("ws/#", { qos: 1 });
      await client.publish("ws/a", "over WebSocket", { qos: 1 });
      assert.equal(text(await sub.recv({ timeout: 3000 })), "over WebSocket");
      await client.close();
    } finally {
      await broker.stop();
      await broker.remove();
    }
  }),
});

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

/** The packets a scripted broker reads from one connection, one at a time. */
function packetsOf(conn: import("../src/socket.ts").Conn, version: 4 | 5) {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const queue: mqttPacket.Packet[] = [];
  parser.on("packet", (p: mqttPacket.Packet) => queue.push(p));
  return {
    async next(): Promise<mqttPacket.Packet> {
      while (queue.length === 0) {
        const chunk = await conn.read({ timeout: 3000 });
        if (chunk === null) throw new Error("client closed the connection");
        parser.parse(Buffer.from(chunk));
      }
      return queue.shift()!;
    },
    send: (p: mqttPacket.Packet) =>
      conn.write(mqttPacket.generate(p, { protocolVersion: version })),
  };
}

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

Deno.test({
  name: "a full subscription buffer pauses reading, loses nothing, keeps the connection",
  ignore: !haveMosquitto,
  fn: noLeaks(async () => {
    const topic = uid();
    const client = await connect(SYSTEM, { keepalive: 1, pingTimeout: 300 });
    const sub = await client.subscribe(topic, { qos: 1, bufferSize: 2 });
    for (let i = 0; i < 20; i++) await client.publish(topic, `${i}`, { qos: 1 });
    await sleep(1500); // the consumer is away for longer than the keep-alive
    const got = (await collect(sub, 20)).map(text);
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `${i}`));
    assert.equal(client.connected, true);
    assert.equal(client.lastError, undefined);
    // At QoS 0 what does not fit is dropped, and counted.
    const lossy = await client.subscribe(`${topic}/0`, { qos: 0, bufferSize: 2 });
    for (let i = 0; i < 10; i++) await client.publish(`${topic}/0`, `${i}`, { qos: 1 });
    await sleep(300);
    const kept: string[] = [];
    for (let m; (m = await lossy.recv({ timeout: 100 }).catch(() => undefined));) {
      kept.push(text(m));
    }
    assert.equal(kept.length + lossy.dropped, 10);
    assert.deepEqual(kept, ["0", "1"]);
    await client.close();
  }),
});

Deno.test({
  name: "mqtts:// through Mosquitto with a test CA; insecure accepts a name mismatch only",
  ignore: !haveDaemon,
  fn: noLeaks(async () => {
    const fixtures = new URL("./fixtures/tls/", import.meta.url).pathname;
    const ca = await Deno.readTextFile(`${fixtures}ca.pem`);
    const [port, tlsPort, otherPort] = [freePort(), freePort(), freePort()];
    const good = await ownMosquitto(port, undefined, {
      port: tlsPort,
      cert: `${fixtures}leaf.pem`,
      key: `${fixtures}leaf.key`,
    });
    const other = await ownMosquitto(freePort(), undefined, {
      port: otherPort,
      cert: `${fixtures}other.pem`,
      key: `${fixtures}other.key`,
    });
    try {
      const client = await connect(`mqtts://localhost:${tlsPort}`, {
        caCerts: [ca],
        protocolVersion: 5,
        timeout: 5000,
      });
      const sub = await client.subscribe("tls/#", { qos: 1 });
      await client.publish("tls/a", "over TLS", { qos: 1 });
      assert.equal(text(await sub.recv({ timeout: 3000 })), "over TLS");
      await client.close();
      // A certificate for other.example: refused, unless hostnames are not checked.
      await assert.rejects(
        connect(`mqtts://localhost:${otherPort}`, { caCerts: [ca], timeout: 5000 }),
      );
      const lax = await connect(`mqtts://localhost:${otherPort}`, {
        caCerts: [ca],
        insecure: true,
        timeout: 5000,
      });
      await lax.close();
      // An unknown CA is refused even so.
      await assert.rejects(
        connect(`mqtts://localhost:${tlsPort}`, { insecure: true, timeout: 5000 }),
      );
    } finally {
      for (const b of [good, other]) {
        await b.stop();
        await b.remove();
      }
    }
  }),
});

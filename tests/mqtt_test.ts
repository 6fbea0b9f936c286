/**
 * lunet/mqtt against real peers: Mosquitto on 127.0.0.1:1883 (`.ci/run`
 * starts it), Mosquitto children of the test's own (restart, WebSocket,
 * TLS), Aedes in-process (so the suite also runs where Mosquitto is
 * absent), and Debian's mosquitto_pub/mosquitto_sub and MQTT.js as the
 * other client. The session's failure paths against scripted brokers are
 * in mqtt_session_test.ts.
 */
import assert from "node:assert/strict";
import type { Buffer } from "node:buffer";
import { sleep, spawn } from "../mod.ts";
import { connect, type Subscription } from "../src/mqtt/mod.ts";
import { checkTopicFilter, matchedFilter, topicMatches } from "../src/mqtt/_topic.ts";
import { noLeaks } from "./leak.ts";
import {
  aedes,
  collect,
  freePort,
  haveClients,
  haveDaemon,
  haveMosquitto,
  opts,
  ownMosquitto,
  SYSTEM,
  text,
  uid,
} from "./mqtt_helpers.ts";

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

Deno.test(
  "mqtt: connect() refuses a broker address that is not a URL of a known scheme, before connecting",
  noLeaks(async () => {
    const cases: [unknown, string][] = [
      [null, 'mqtt connect: not a URL: "null"'],
      [42, 'mqtt connect: not a URL: "42"'],
      ["::bad", 'mqtt connect: not a URL: "::bad"'],
      [
        "http://127.0.0.1:1883",
        "mqtt connect http://127.0.0.1:1883: unsupported scheme (use mqtt://, mqtts://, tcp://, tls://, ws:// or wss://)",
      ],
    ];
    for (const [url, message] of cases) {
      await assert.rejects(connect(url as never), { name: "TypeError", message });
    }
  }),
);

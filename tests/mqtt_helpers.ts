/**
 * Shared by the MQTT suites: the brokers (Mosquitto on 127.0.0.1:1883,
 * Mosquitto children of a test's own, Aedes in-process, scripted brokers
 * on lunet sockets) and small helpers.
 */
import { Buffer } from "node:buffer";
import { createServer, type Server } from "node:net";
import mqttPacket from "mqtt-packet";
import { sleep, spawn } from "../mod.ts";
import { type Conn, listen } from "../src/socket.ts";
import type { MqttMessage, Subscription } from "../src/mqtt/mod.ts";

export const SYSTEM = "mqtt://127.0.0.1:1883";
export const text = (m: MqttMessage) => new TextDecoder().decode(m.payload);
export const uid = () => `lunet-test/${crypto.randomUUID().slice(0, 8)}`;
export const opts = { sanitizeOps: false, sanitizeResources: false };

export async function portOpen(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}
export const haveMosquitto = await portOpen(1883);
const haveBinary = async (name: string) => {
  try {
    return (await new Deno.Command("which", { args: [name], stdout: "null" }).output()).success;
  } catch {
    return false;
  }
};
export const haveClients = await haveBinary("mosquitto_pub") && await haveBinary("mosquitto_sub");
export const haveDaemon = await haveBinary("mosquitto");

export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A Mosquitto child process of this test on `port` (and a WebSocket listener on `wsPort`). */
export async function ownMosquitto(
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
export async function aedes(): Promise<{ url: string; close(): Promise<void> }> {
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

export async function collect(
  sub: Subscription,
  n: number,
  timeout = 5000,
): Promise<MqttMessage[]> {
  const out: MqttMessage[] = [];
  const deadline = Date.now() + timeout;
  while (out.length < n) out.push(await sub.recv({ deadline }));
  return out;
}

/** A scripted broker: answers CONNACK, then runs `script` on the connection. */
export async function scripted(
  script: (conn: Conn) => Promise<void>,
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

/** The packets a scripted broker reads from one connection, one at a time. */
export function packetsOf(conn: Conn, version: 4 | 5) {
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

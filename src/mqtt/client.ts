/**
 * {@linkcode MqttClient} and {@linkcode connect}: the public face of an
 * MQTT 3.1.1 / 5.0 client on lunet sockets (its session engine lives in
 * `_engine.ts`).
 *
 * @module
 */
import { ClosedError } from "../errors.ts";
import type { WaitOptions } from "../_wait.ts";
import type { Packet } from "./_codec.ts";
import { Engine } from "./_engine.ts";
import { checkTopicName } from "./_topic.ts";
import { checkQos } from "./_router.ts";
import { toBuffer, wireProperties } from "./_wire.ts";
import type { MqttConnectOptions, PublishOptions, SubscribeOptions } from "./options.ts";
import type { Subscription } from "./subscription.ts";

/**
 * Options of {@linkcode MqttClient.close}.
 *
 * @example
 * ```ts
 * import type { CloseOptions } from "@lunet/lunet/mqtt";
 * const opts: CloseOptions = { sendWill: true };
 * console.log(opts.sendWill);
 * ```
 */
export interface CloseOptions {
  /**
   * Let the broker publish the will message: on MQTT 5.0 the DISCONNECT
   * carries reason 0x04, on 3.1.1 the connection is dropped without one.
   */
  sendWill?: boolean;
}

let makeClient: (engine: Engine) => MqttClient;

/**
 * A connected MQTT client. Make one with {@linkcode connect}.
 *
 * The client keeps its session across connection losses: it reconnects
 * with back-off, subscribes again when the broker kept no session, and
 * resends QoS 1/2 messages still in flight (with DUP set, or the PUBREL
 * where the PUBREC came). Publishes made while disconnected wait in a
 * bounded offline queue (`offlineQueue`, default 1000). The client runs
 * its reader and keep-alive outside the task that connected it: it lives
 * until {@linkcode MqttClient.close}, like a socket.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "@lunet/lunet/mqtt";
 * const topic = `greetings/${crypto.randomUUID()}`;
 * const client = await connect("mqtt://127.0.0.1:1883", { protocolVersion: 5 });
 * const sub = await client.subscribe(`${topic}/#`, { qos: 1 });
 * await client.publish(`${topic}/en`, "hello", { qos: 1 });
 * const msg = await sub.recv({ timeout: 5000 });
 * assert.equal(msg.topic, `${topic}/en`);
 * assert.equal(new TextDecoder().decode(msg.payload), "hello");
 * await client.close();
 * ```
 */
export class MqttClient implements AsyncDisposable {
  /** MQTT protocol version in use: 4 (3.1.1) or 5. */
  readonly protocolVersion: 4 | 5;
  #engine: Engine;

  static {
    makeClient = (engine) => new MqttClient(engine);
  }

  /** @ignore */
  private constructor(engine: Engine) {
    this.#engine = engine;
    this.protocolVersion = engine.protocolVersion;
  }

  /** The client identifier (the broker's, when it assigned one). */
  get clientId(): string {
    return this.#engine.clientId;
  }

  /** True while a connection to the broker is up. */
  get connected(): boolean {
    return this.#engine.connected;
  }

  /** True once the client is closed (by `close()`, or a loss with reconnecting off). */
  get closed(): boolean {
    return this.#engine.closed;
  }

  /** Why the last connection ended (or the last reconnect failed), if one did. */
  get lastError(): Error | undefined {
    return this.#engine.lastError;
  }

  /**
   * Publishes `payload` (strings as UTF-8) to `topic`. Resolves at QoS 0
   * once the packet is written, at QoS 1 on the PUBACK, at QoS 2 on the
   * PUBCOMP. A QoS 1/2 publish first waits for a slot in the inflight
   * window. While disconnected the message waits in the offline queue, and
   * one more than its limit fails with `ResourceExhausted`. A timeout or
   * cancellation only ends the wait: the message stays in flight.
   *
   * @throws {TypeError} for an invalid topic name, before anything is sent.
   * @throws {MqttError} when the broker refuses it (MQTT 5.0 reason code).
   * @throws {MessageTooLong} when it exceeds the broker's maximum packet size (MQTT 5.0).
   * @throws {ResourceExhausted} when the offline queue is full.
   * @example
   * ```ts
   * import { connect } from "@lunet/lunet/mqtt";
   * const client = await connect("mqtt://127.0.0.1:1883");
   * await client.publish(`sensors/${crypto.randomUUID()}/temp`, "21.5", { qos: 1 });
   * await client.close();
   * ```
   */
  publish(topic: string, payload: string | Uint8Array, opts?: PublishOptions): Promise<void> {
    const engine = this.#engine;
    let packet: Packet;
    try {
      const alias = engine.protocolVersion === 5 && opts?.properties?.topicAlias;
      if (!(alias && topic === "")) checkTopicName(topic);
      const qos = checkQos(opts?.qos ?? 0, `publish ${topic}`);
      if (engine.closed) throw new ClosedError(`publish ${topic} (${engine.label})`);
      packet = { cmd: "publish", topic, payload: toBuffer(payload), qos };
    } catch (err) {
      return Promise.reject(err);
    }
    if (opts?.retain) packet.retain = true;
    if (engine.protocolVersion === 5 && opts?.properties) {
      packet.properties = wireProperties(opts.properties);
    }
    return engine.publish(packet, opts);
  }

  /**
   * Subscribes to one filter or several with one SUBSCRIBE and resolves,
   * once the SUBACK came, with the {@linkcode Subscription} that yields
   * their messages. Messages are routed to every subscription of the
   * client whose filters match; ones that arrive before any matching
   * subscription exists (a persistent session's queued messages, right
   * after connecting) are held, up to 1000 for 10 s, for the first
   * subscription that matches them.
   *
   * @throws {TypeError} for an invalid filter, before anything is sent.
   * @throws {MqttError} when the broker refuses a filter (SUBACK failure code).
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { connect } from "@lunet/lunet/mqtt";
   * const client = await connect("mqtt://127.0.0.1:1883");
   * const sub = await client.subscribe(["lunet-doc/a/+", "lunet-doc/b/#"], { qos: 2 });
   * assert.deepEqual(sub.granted, [2, 2]);
   * await sub.unsubscribe();
   * await client.close();
   * ```
   */
  subscribe(filters: string | string[], opts?: SubscribeOptions): Promise<Subscription> {
    if (this.#engine.closed) {
      return Promise.reject(new ClosedError(`subscribe (${this.#engine.label})`));
    }
    return this.#engine.router.subscribe(
      typeof filters === "string" ? [filters] : [...filters],
      opts,
    );
  }

  /**
   * Unsubscribes from `filters`: sends UNSUBSCRIBE and ends every
   * subscription of this client whose filters are all among them.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { connect } from "@lunet/lunet/mqtt";
   * const client = await connect("mqtt://127.0.0.1:1883");
   * const sub = await client.subscribe("lunet-doc/a/b");
   * await client.unsubscribe("lunet-doc/a/b");
   * assert.equal(sub.closed, true);
   * await client.close();
   * ```
   */
  unsubscribe(filters: string | string[], opts?: WaitOptions): Promise<void> {
    if (this.#engine.closed) {
      return Promise.reject(new ClosedError(`unsubscribe (${this.#engine.label})`));
    }
    return this.#engine.router.unsubscribe(
      typeof filters === "string" ? [filters] : [...filters],
      opts,
    );
  }

  /**
   * Sends DISCONNECT and closes the connection. Publishes still waiting for
   * their acknowledgement, or in the offline queue, fail with
   * {@linkcode ClosedError}; subscriptions end. Closing twice is harmless.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { connect } from "@lunet/lunet/mqtt";
   * const client = await connect("mqtt://127.0.0.1:1883");
   * assert.equal(client.connected, true);
   * await client.close();
   * assert.equal(client.closed, true);
   * ```
   */
  close(opts?: CloseOptions): Promise<void> {
    return this.#engine.close(opts?.sendWill ?? false);
  }

  /** Closes the client (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Connects to the broker at `url` (`mqtt://host:port`, `mqtts://…` for
 * TLS; credentials may sit in the URL) and resolves once the broker
 * accepted the session (CONNACK). The whole connect shares one budget:
 * `timeout` (default 30 s), `deadline` or `signal`.
 *
 * @throws {MqttError} when the broker refuses the connection (reason code).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "@lunet/lunet/mqtt";
 * const id = crypto.randomUUID().slice(0, 8);
 * const client = await connect("mqtt://127.0.0.1:1883", {
 *   clientId: `sensor-${id}`,
 *   protocolVersion: 5,
 *   timeout: 5000,
 *   will: { topic: `sensors/${id}/status`, payload: "offline", qos: 1 },
 * });
 * assert.equal(client.clientId, `sensor-${id}`);
 * await client.close();
 * ```
 */
export async function connect(url: string | URL, opts?: MqttConnectOptions): Promise<MqttClient> {
  const engine = new Engine(url, opts ?? {});
  await engine.start(opts ?? {});
  return makeClient(engine);
}

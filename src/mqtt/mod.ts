/**
 * lunet/mqtt: an MQTT 3.1.1 and 5.0 client on lunet sockets (TCP, TLS, WebSocket).
 * Packets are encoded and decoded by `npm:mqtt-packet` (loaded by this module
 * alone, on its first connect); the session logic is lunet's: QoS 0/1/2 handshakes,
 * keep-alive pings with a missing PINGRESP detected, reconnecting with
 * back-off (subscribing again, resending in-flight QoS 1/2 messages with
 * DUP), a bounded inflight window and offline queue, and MQTT 5.0 reason
 * codes, user properties, topic aliases, message expiry and shared
 * subscriptions (`$share/<group>/<filter>`).
 *
 * Every wait (connect, publish, subscribe, a subscription's `recv`) takes
 * `{ timeout, deadline, signal }` and wakes when the calling task is
 * cancelled. Topic names and filters are checked before anything is sent;
 * an oversized or malformed packet from the broker ends the connection
 * with a `ProtocolError`.
 *
 * @example Publish and receive through a broker
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "@lunet/lunet/mqtt";
 * const site = `lunet-doc/${crypto.randomUUID()}`;
 * const client = await connect("mqtt://127.0.0.1:1883", { protocolVersion: 5 });
 * const sub = await client.subscribe(`${site}/sensors/+/temp`, { qos: 1 });
 * await client.publish(`${site}/sensors/t1/temp`, "21.5", { qos: 1 });
 * for await (const msg of sub) {
 *   assert.equal(msg.topic, `${site}/sensors/t1/temp`);
 *   assert.equal(new TextDecoder().decode(msg.payload), "21.5");
 *   break;
 * }
 * await client.close();
 * ```
 * @module
 */
export { type CloseOptions, connect, MqttClient } from "./client.ts";
export { Subscription } from "./subscription.ts";
export type { WaitOptions } from "../_wait.ts";
export { MqttError } from "./errors.ts";
export type {
  MqttConnectOptions,
  MqttMessage,
  PublishOptions,
  PublishProperties,
  QoS,
  SubscribeOptions,
  UserProperties,
  WillMessage,
} from "./options.ts";

/**
 * Building outgoing packets' parts: the CONNECT packet of a client's
 * options, payloads as Buffers (no copy for a Uint8Array), and MQTT 5.0
 * properties with their binary fields as Buffers.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { Packet } from "./_codec.ts";
import { checkQos } from "./_router.ts";
import { checkTopicName } from "./_topic.ts";
import type { MqttConnectOptions } from "./options.ts";

/**
 * The CONNECT for `o`. On MQTT 5.0 a reconnect (`first` false) of a
 * session that outlives its connection resumes it (clean start off).
 */
export function connectPacket(
  o: MqttConnectOptions,
  version: 4 | 5,
  clientId: string,
  keepalive: number,
  maxPacketSize: number,
  first: boolean,
): Packet {
  const v5 = version === 5;
  let clean = o.clean ?? true;
  if (!first && v5 && (o.sessionExpiry ?? 0) > 0) clean = false;
  const p: Packet = {
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: version,
    clean,
    clientId: clientId,
    keepalive: keepalive,
  };
  if (o.username !== undefined) p.username = o.username;
  if (o.password !== undefined) p.password = toBuffer(o.password);
  if (o.will) {
    checkTopicName(o.will.topic, "connect will");
    p.will = {
      topic: o.will.topic,
      payload: toBuffer(o.will.payload),
      qos: checkQos(o.will.qos ?? 0, "connect will"),
      retain: o.will.retain ?? false,
    };
    if (v5 && o.will.properties) p.will.properties = wireProperties(o.will.properties);
  }
  if (v5) {
    const props: Record<string, unknown> = { maximumPacketSize: maxPacketSize };
    if (o.sessionExpiry !== undefined) props.sessionExpiryInterval = o.sessionExpiry;
    if (o.topicAliasMaximum) props.topicAliasMaximum = o.topicAliasMaximum;
    if (o.userProperties) props.userProperties = o.userProperties;
    p.properties = props;
  }
  return p;
}

/** Payload bytes as a Buffer, strings as UTF-8. */
export function toBuffer(data: string | Uint8Array): Buffer {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Properties with `correlationData` as a Buffer. */
export function wireProperties<T extends { correlationData?: Uint8Array }>(props: T): T {
  if (!props.correlationData) return props;
  return { ...props, correlationData: toBuffer(props.correlationData) };
}

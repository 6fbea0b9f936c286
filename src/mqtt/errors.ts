/**
 * {@linkcode MqttError}: a broker's refusal or disconnect, with the MQTT
 * reason code it gave.
 *
 * @module
 */
import { ProtocolError } from "../errors.ts";

/** MQTT 5.0 reason code names (§2.4), also used for 3.1.1's CONNACK return codes. */
const REASONS: Record<number, string> = {
  0x00: "success",
  0x04: "disconnect with will message",
  0x10: "no matching subscribers",
  0x11: "no subscription existed",
  0x80: "unspecified error",
  0x81: "malformed packet",
  0x82: "protocol error",
  0x83: "implementation specific error",
  0x84: "unsupported protocol version",
  0x85: "client identifier not valid",
  0x86: "bad user name or password",
  0x87: "not authorized",
  0x88: "server unavailable",
  0x89: "server busy",
  0x8a: "banned",
  0x8b: "server shutting down",
  0x8c: "bad authentication method",
  0x8d: "keep alive timeout",
  0x8e: "session taken over",
  0x8f: "topic filter invalid",
  0x90: "topic name invalid",
  0x91: "packet identifier in use",
  0x92: "packet identifier not found",
  0x93: "receive maximum exceeded",
  0x94: "topic alias invalid",
  0x95: "packet too large",
  0x96: "message rate too high",
  0x97: "quota exceeded",
  0x98: "administrative action",
  0x99: "payload format invalid",
  0x9a: "retain not supported",
  0x9b: "QoS not supported",
  0x9c: "use another server",
  0x9d: "server moved",
  0x9e: "shared subscriptions not supported",
  0x9f: "connection rate exceeded",
  0xa0: "maximum connect time",
  0xa1: "subscription identifiers not supported",
  0xa2: "wildcard subscriptions not supported",
};

/** MQTT 3.1.1 CONNACK return codes, as their MQTT 5.0 reason codes. */
const V4_CONNACK: Record<number, number> = { 1: 0x84, 2: 0x85, 3: 0x88, 4: 0x86, 5: 0x87 };

/** The name of an MQTT 5.0 reason code, e.g. `"not authorized"` for 0x87. */
export function reasonName(code: number): string {
  return REASONS[code] ?? `reason code 0x${code.toString(16).padStart(2, "0")}`;
}

/**
 * The broker refused something or ended the session: a CONNACK refusal, a
 * SUBACK, PUBACK or PUBREC failure code, or a DISCONNECT sent by the
 * server. `reasonCode` is the MQTT 5.0 reason code (3.1.1's CONNACK return
 * codes are mapped to their 5.0 equivalents, e.g. 5 to 0x87 "not
 * authorized"); `reasonString` is the text the broker added, when it did.
 * The error `code` is `"protocol"`, like every error about a peer's answer.
 *
 * @example
 * ```ts
 * import { MqttError } from "@lunet/lunet/mqtt";
 * const err = new MqttError("connect mqtt://127.0.0.1:1883", 0x87);
 * if (err.reasonCode !== 0x87 || err.code !== "protocol") throw new Error("unexpected");
 * console.log(err.message); // "connect mqtt://127.0.0.1:1883: not authorized (0x87)"
 * ```
 */
export class MqttError extends ProtocolError {
  /** The MQTT 5.0 reason code. */
  readonly reasonCode: number;
  /** The broker's own text about it (MQTT 5.0 `reasonString`), if any. */
  readonly reasonString?: string;
  /**
   * Creates the error.
   * @param what the operation and its target, e.g. `"subscribe a/b"`
   * @param reasonCode the MQTT 5.0 reason code
   * @param reasonString the broker's text about it
   */
  constructor(what: string, reasonCode: number, reasonString?: string, options?: ErrorOptions) {
    const hex = `0x${reasonCode.toString(16).padStart(2, "0")}`;
    const text = reasonString ? `: ${reasonString}` : "";
    super(`${what}: ${reasonName(reasonCode)} (${hex})${text}`, undefined, options);
    this.reasonCode = reasonCode;
    if (reasonString !== undefined) this.reasonString = reasonString;
  }
}

/** The 5.0 reason code for a 3.1.1 CONNACK return code. */
export function v4ConnackReason(returnCode: number): number {
  return V4_CONNACK[returnCode] ?? 0x80;
}

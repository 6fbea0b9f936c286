/**
 * The option and message types of lunet/mqtt.
 *
 * @module
 */
import type { WaitOptions } from "../_wait.ts";

/** Quality of service: at most once, at least once, exactly once. */
export type QoS = 0 | 1 | 2;

/**
 * MQTT 5.0 user properties: names with one value or several.
 *
 * @example
 * ```ts
 * import type { UserProperties } from "@lunet/lunet/mqtt";
 * const props: UserProperties = { sensor: "t1", tag: ["a", "b"] };
 * console.log(props.sensor);
 * ```
 */
export type UserProperties = Record<string, string | string[]>;

/**
 * MQTT 5.0 properties of a PUBLISH (and of a will message).
 *
 * @example
 * ```ts
 * import type { PublishProperties } from "@lunet/lunet/mqtt";
 * const props: PublishProperties = { messageExpiryInterval: 60, contentType: "text/plain" };
 * console.log(props.contentType);
 * ```
 */
export interface PublishProperties {
  /** 1 when the payload is UTF-8 text. */
  payloadFormatIndicator?: boolean;
  /** Seconds after which the broker drops the message if undelivered. */
  messageExpiryInterval?: number;
  /** A topic alias the broker set (received messages only; sending uses `topicAlias` below). */
  topicAlias?: number;
  /** Topic for a response (request/response pattern). */
  responseTopic?: string;
  /** Correlation data for a response. */
  correlationData?: Uint8Array;
  /** User properties. */
  userProperties?: UserProperties;
  /** Subscription identifiers the message matched (received messages only). */
  subscriptionIdentifier?: number | number[];
  /** MIME type of the payload. */
  contentType?: string;
}

/**
 * A will message: published by the broker when the client disconnects
 * without a DISCONNECT (or, on MQTT 5.0, with `close({ sendWill: true })`).
 *
 * @example
 * ```ts
 * import type { WillMessage } from "@lunet/lunet/mqtt";
 * const will: WillMessage = { topic: "sensors/t1/status", payload: "offline", retain: true };
 * console.log(will.topic);
 * ```
 */
export interface WillMessage {
  /** Topic name. */
  topic: string;
  /** Payload; strings are sent as UTF-8. */
  payload: string | Uint8Array;
  /** QoS (default 0). */
  qos?: QoS;
  /** Retain flag (default false). */
  retain?: boolean;
  /** MQTT 5.0 will properties; `willDelayInterval` delays the will (seconds). */
  properties?: PublishProperties & { willDelayInterval?: number };
}

/**
 * Options of {@linkcode connect}. Waits inside the call share one budget:
 * `timeout` (default 30 s) bounds the whole connect, CONNACK included.
 *
 * @example
 * ```ts
 * import type { MqttConnectOptions } from "@lunet/lunet/mqtt";
 * const opts: MqttConnectOptions = { clientId: "sensor-1", protocolVersion: 5, keepalive: 30 };
 * console.log(opts.clientId);
 * ```
 */
export interface MqttConnectOptions extends WaitOptions {
  /** Client identifier (default: `lunet_` and 12 random hex digits). */
  clientId?: string;
  /** User name. */
  username?: string;
  /** Password; strings are sent as UTF-8. */
  password?: string | Uint8Array;
  /** Keep-alive in seconds (default 60; 0 turns pings off). */
  keepalive?: number;
  /**
   * Start a clean session (default true). With `false` the broker keeps the
   * session (subscriptions, queued messages, in-flight QoS 1/2 state)
   * across connections: on MQTT 5.0 for `sessionExpiry` seconds.
   */
  clean?: boolean;
  /** 4 for MQTT 3.1.1 (the default), 5 for MQTT 5.0. */
  protocolVersion?: 4 | 5;
  /** Will message. */
  will?: WillMessage;
  /**
   * MQTT 5.0 session expiry in seconds: how long the broker keeps the
   * session after the connection ends (default 0; 0xFFFFFFFF never expires).
   */
  sessionExpiry?: number;
  /** Extra trusted root certificates for `mqtts://` and `wss://`, PEM. */
  caCerts?: string[];
  /**
   * `mqtts://` and `wss://`: accept a certificate whose names do not match
   * the host. The chain is still verified (Deno offers no per-connection
   * way to skip that).
   */
  insecure?: boolean;
  /**
   * Reconnect with back-off after the connection is lost (default true):
   * `initialDelay` ms (default 100), doubled on each failure up to
   * `maxDelay` ms (default 10 000), with up to 20 % jitter. `false` closes
   * the client on the first loss.
   */
  reconnect?: boolean | { initialDelay?: number; maxDelay?: number };
  /**
   * How many QoS 1/2 publishes may await their acknowledgement at once
   * (default 100; on MQTT 5.0 never above the broker's receive maximum).
   * Further publishes wait for a slot.
   */
  inflight?: number;
  /**
   * How many publishes may wait while the client is disconnected (default
   * 1000). One more fails at once with `ResourceExhausted`: the queue
   * never grows without bound.
   */
  offlineQueue?: number;
  /** Largest packet accepted from the broker, in bytes (default 16 MiB). */
  maxPacketSize?: number;
  /**
   * How long to wait for a PINGRESP before the connection counts as lost,
   * in ms (default: half the keep-alive, at most 10 000).
   */
  pingTimeout?: number;
  /**
   * MQTT 5.0: how many topic aliases the broker may use towards this client
   * (default 0: none).
   */
  topicAliasMaximum?: number;
  /**
   * MQTT 5.0: give topics aliases automatically when publishing, within
   * the broker's topic alias maximum (default false).
   */
  autoTopicAlias?: boolean;
  /** MQTT 5.0 user properties of the CONNECT. */
  userProperties?: UserProperties;
  /**
   * The socket backend of an `mqtt://` connection (default: `LUNET_BACKEND`
   * when set, else `"deno"`). A client mostly waits for its broker, and
   * Deno's own reactor wakes it sooner than the ffi backend's poller does
   * after an idle spell: QoS 1 throughput measured 1.4–1.8× higher on
   * `"deno"` (bench/mqtt_load.ts). TLS and WebSocket connections always
   * run on Deno's sockets.
   */
  backend?: "deno" | "ffi";
  /**
   * Called each time the connection ends, with the reason: an
   * {@linkcode MqttError} carrying the reason code when the server sent a
   * DISCONNECT, else the transport or protocol error.
   */
  onDisconnect?: (err: Error) => void;
}

/**
 * Options of {@linkcode MqttClient.publish}; the wait options bound the
 * wait for the acknowledgement (an early wake leaves the message in flight).
 *
 * @example
 * ```ts
 * import type { PublishOptions } from "@lunet/lunet/mqtt";
 * const opts: PublishOptions = { qos: 1, retain: true, timeout: 5000 };
 * console.log(opts.qos);
 * ```
 */
export interface PublishOptions extends WaitOptions {
  /** QoS (default 0). */
  qos?: QoS;
  /** Retain flag (default false). */
  retain?: boolean;
  /** MQTT 5.0 properties. */
  properties?: PublishProperties;
}

/**
 * Options of {@linkcode MqttClient.subscribe}.
 *
 * @example
 * ```ts
 * import type { SubscribeOptions } from "@lunet/lunet/mqtt";
 * const opts: SubscribeOptions = { qos: 1, bufferSize: 100 };
 * console.log(opts.qos);
 * ```
 */
export interface SubscribeOptions extends WaitOptions {
  /** Maximum QoS of the messages delivered (default 0). */
  qos?: QoS;
  /** MQTT 5.0: do not receive this client's own publishes. */
  noLocal?: boolean;
  /** MQTT 5.0: keep the retain flag as published. */
  retainAsPublished?: boolean;
  /** MQTT 5.0: 0 send retained messages, 1 only for a new subscription, 2 never. */
  retainHandling?: 0 | 1 | 2;
  /** MQTT 5.0 user properties of the SUBSCRIBE. */
  userProperties?: UserProperties;
  /**
   * Messages buffered for this subscription (default 10 000). Beyond it a
   * QoS 1/2 message waits with its acknowledgement withheld, and a QoS 0
   * message is dropped (counted in `Subscription.dropped`).
   */
  bufferSize?: number;
}

/**
 * A received message.
 *
 * @example
 * ```ts
 * import type { MqttMessage } from "@lunet/lunet/mqtt";
 * const show = (m: MqttMessage) => `${m.topic}: ${new TextDecoder().decode(m.payload)}`;
 * console.log(show({ topic: "a", payload: new Uint8Array([104, 105]), qos: 0, retain: false, dup: false }));
 * ```
 */
export interface MqttMessage {
  /** Topic name (a topic alias already resolved). */
  topic: string;
  /** Payload bytes. */
  payload: Uint8Array;
  /** QoS it was delivered with. */
  qos: QoS;
  /** True for a retained message sent on subscribing. */
  retain: boolean;
  /** True when the broker marks it as a possible re-delivery. */
  dup: boolean;
  /** MQTT 5.0 properties. */
  properties?: PublishProperties;
}

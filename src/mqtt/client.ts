/**
 * {@linkcode MqttClient} and {@linkcode connect}: the session logic of an
 * MQTT 3.1.1 / 5.0 client on lunet sockets.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { ClosedError, ProtocolError, TimeoutError } from "../errors.ts";
import { spawn, type Task } from "../task.ts";
import { sleep } from "../sleep.ts";
import { traceClose, traceOpen } from "../trace.ts";
import { abandon, budget, race, type WaitOptions } from "../_wait.ts";
import type { Packet } from "./_codec.ts";
import { MQTT_MAX_PACKET } from "./_codec.ts";
import { outsideTask } from "./_detached.ts";
import { Link, type LinkSettings } from "./_link.ts";
import { parseBrokerUrl } from "./_transport.ts";
import { SessionState, unexpired } from "./_session.ts";
import { checkTopicName } from "./_topic.ts";
import { checkQos, Router } from "./_router.ts";
import { IncomingAliases, OutgoingAliases } from "./_alias.ts";
import { MqttError } from "./errors.ts";
import type { MqttConnectOptions, PublishOptions, QoS, SubscribeOptions } from "./options.ts";
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

let makeClient: (url: string | URL, opts: MqttConnectOptions) => MqttClient;
let startClient: (client: MqttClient, opts: MqttConnectOptions) => Promise<void>;

const DEFAULT_MAX_PACKET = 16 * 1024 * 1024;

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
  #clientId: string;
  #opts: MqttConnectOptions;
  #settings: LinkSettings;
  #session: SessionState;
  #router: Router;
  #link: Link | undefined;
  #task: Task<void> | undefined;
  #closed = false;
  #lastError: Error | undefined;
  #keepalive: number;
  #window: number;
  #inAliases: IncomingAliases;
  #outAliases: OutgoingAliases | undefined;
  #trace = 0;
  #label: string;

  static {
    makeClient = (url, opts) => new MqttClient(url, opts);
    startClient = (client, opts) => client.#start(opts);
  }

  /** @ignore */
  private constructor(url: string | URL, opts: MqttConnectOptions) {
    const broker = parseBrokerUrl(url);
    const version = opts.protocolVersion ?? 4;
    if (version !== 4 && version !== 5) {
      throw new RangeError(`mqtt connect: protocolVersion must be 4 or 5, got ${version}`);
    }
    this.protocolVersion = version;
    this.#label = broker.label;
    this.#opts = {
      ...opts,
      username: opts.username ?? broker.username,
      password: opts.password ?? broker.password,
    };
    const clean = opts.clean ?? true;
    if (!clean && !opts.clientId && version === 4) {
      throw new TypeError("mqtt connect: a persistent session (clean: false) needs a clientId");
    }
    this.#clientId = opts.clientId ?? `lunet_${randomHex(12)}`;
    const keepalive = opts.keepalive ?? 60;
    if (!Number.isInteger(keepalive) || keepalive < 0 || keepalive > 65535) {
      throw new RangeError(`mqtt connect: keepalive must be 0..65535 seconds, got ${keepalive}`);
    }
    this.#keepalive = keepalive;
    const max = opts.maxPacketSize ?? DEFAULT_MAX_PACKET;
    this.#settings = {
      broker,
      transport: { caCerts: opts.caCerts, insecure: opts.insecure, backend: opts.backend },
      protocolVersion: version,
      maxPacketSize: Math.min(max, MQTT_MAX_PACKET),
    };
    this.#window = positive(opts.inflight ?? 100, "inflight");
    this.#session = new SessionState(
      this.#window,
      positive(opts.offlineQueue ?? 1000, "offlineQueue"),
    );
    this.#router = new Router(version, (p, what, o) => this.#request(p, what, o));
    this.#inAliases = new IncomingAliases(opts.topicAliasMaximum ?? 0, broker.label);
  }

  /** The client identifier (the broker's, when it assigned one). */
  get clientId(): string {
    return this.#clientId;
  }

  /** True while a connection to the broker is up. */
  get connected(): boolean {
    return this.#link !== undefined;
  }

  /** True once the client is closed (by `close()`, or a loss with reconnecting off). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Why the last connection ended (or the last reconnect failed), if one did. */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  #connectPacket(first: boolean): Packet {
    const o = this.#opts;
    const v5 = this.protocolVersion === 5;
    let clean = o.clean ?? true;
    if (!first && v5 && (o.sessionExpiry ?? 0) > 0) clean = false;
    const p: Packet = {
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: this.protocolVersion,
      clean,
      clientId: this.#clientId,
      keepalive: this.#keepalive,
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
      const props: Record<string, unknown> = { maximumPacketSize: this.#settings.maxPacketSize };
      if (o.sessionExpiry !== undefined) props.sessionExpiryInterval = o.sessionExpiry;
      if (o.topicAliasMaximum) props.topicAliasMaximum = o.topicAliasMaximum;
      if (o.userProperties) props.userProperties = o.userProperties;
      p.properties = props;
    }
    return p;
  }

  async #start(opts: MqttConnectOptions): Promise<void> {
    const link = await Link.open(this.#settings, this.#connectPacket(true), opts);
    this.#trace = traceOpen("mqtt", this.#label);
    this.#up(link);
    this.#task = outsideTask(() => spawn(() => this.#supervise(link), { name: "mqtt client" }));
  }

  /** Takes a fresh link into use: session resumption, resends, offline queue. */
  #up(link: Link): void {
    const ack = link.connack;
    const props = ack.properties ?? {};
    if (props.assignedClientIdentifier) this.#clientId = props.assignedClientIdentifier;
    if (props.serverKeepAlive !== undefined) this.#keepalive = props.serverKeepAlive;
    this.#session.window = Math.min(this.#window, props.receiveMaximum ?? 65535);
    const aliasMax = props.topicAliasMaximum ?? 0;
    this.#outAliases = this.#opts.autoTopicAlias && aliasMax > 0
      ? new OutgoingAliases(aliasMax)
      : undefined;
    this.#inAliases = new IncomingAliases(this.#opts.topicAliasMaximum ?? 0, this.#label);
    const session = this.#session;
    if (!ack.sessionPresent) {
      session.incoming.clear();
      this.#router.resubscribe();
    }
    for (const r of session.requests.values()) link.sendQuiet(r.packet);
    for (const o of session.outgoing.values()) {
      if (o.stage === "pubcomp") {
        link.sendQuiet({ cmd: "pubrel", messageId: o.id });
        continue;
      }
      const p = unexpired(o.packet, o.since, o.sent);
      if (!p) {
        session.finish(o.id);
        o.done.reject(new TimeoutError(`publish ${o.packet.topic}: message expired`));
        continue;
      }
      o.sent = true;
      link.sendQuiet(this.#aliased(p));
    }
    this.#link = link;
  }

  async #supervise(first: Link): Promise<void> {
    let link = first;
    for (;;) {
      const reason = await this.#serve(link);
      if (this.#link === link) this.#link = undefined;
      if (this.#closed) return;
      this.#lost(reason);
      if (this.#opts.reconnect === false) {
        this.#shutdown(reason);
        return;
      }
      try {
        link = await this.#reconnect();
      } catch (err) {
        if (this.#closed) return;
        throw err;
      }
      this.#up(link);
    }
  }

  #lost(reason: Error): void {
    this.#lastError = reason;
    try {
      this.#opts.onDisconnect?.(reason);
    } catch (err) {
      console.error("mqtt onDisconnect threw:", err);
    }
  }

  /** Runs one link until it ends; returns why it ended. */
  async #serve(link: Link): Promise<Error> {
    const ka = this.#keepalive * 1000;
    const pingTimeout = this.#opts.pingTimeout ?? Math.min(10_000, Math.max(ka / 2, 500));
    const pinger = ka > 0
      ? spawn(() => link.keepalive(ka, pingTimeout), { name: "mqtt ping" })
      : undefined;
    const drain = this.#session.offline.length > 0
      ? spawn(() => this.#drain(link), { name: "mqtt drain" })
      : undefined;
    let reason: Error;
    try {
      await link.run((p) => this.#onPacket(link, p));
    } catch (err) {
      reason = err instanceof Error ? err : new Error(String(err));
    } finally {
      link.close();
      pinger?.cancel();
      drain?.cancel();
      await Promise.allSettled([pinger, drain]);
    }
    return reason!;
  }

  async #reconnect(): Promise<Link> {
    const r = this.#opts.reconnect;
    const initial = (typeof r === "object" ? r.initialDelay : undefined) ?? 100;
    const max = (typeof r === "object" ? r.maxDelay : undefined) ?? 10_000;
    let delay = initial;
    for (;;) {
      await sleep(delay * (1 + Math.random() * 0.2));
      delay = Math.min(delay * 2, max);
      try {
        return await Link.open(this.#settings, this.#connectPacket(false), { timeout: 30_000 });
      } catch (err) {
        if (this.#closed) throw err;
        this.#lastError = err instanceof Error ? err : new Error(String(err));
      }
    }
  }

  /** Sends the publishes queued while disconnected, in order, within the inflight window. */
  async #drain(link: Link): Promise<void> {
    const session = this.#session;
    while (session.offline.length > 0 && this.#link === link) {
      const q = session.offline[0];
      const p = unexpired(q.packet, q.since, false);
      if (p && p.qos > 0) {
        const wait = session.slot(`publish ${p.topic}`, undefined);
        if (wait) {
          await wait;
          continue;
        }
      }
      session.offline.shift();
      if (!p) {
        q.done.reject(new TimeoutError(`publish ${q.packet.topic}: message expired while offline`));
        continue;
      }
      this.#dispatch(link, p, q.since).then(q.done.resolve, q.done.reject);
    }
  }

  /** Sends a publish on `link` (QoS 1/2: registers it in flight). */
  #dispatch(link: Link | undefined, packet: Packet, since: number): Promise<void> {
    if (packet.qos === 0) return link!.send(this.#aliased(packet));
    const session = this.#session;
    const id = session.nextId();
    const entry = {
      id,
      packet: { ...packet, messageId: id },
      stage: packet.qos === 1 ? "puback" as const : "pubrec" as const,
      sent: false,
      since,
      done: Promise.withResolvers<void>(),
    };
    session.outgoing.set(id, entry);
    abandon(entry.done.promise);
    if (link && !link.closed) {
      entry.sent = true;
      link.sendQuiet(this.#aliased(entry.packet));
    }
    return entry.done.promise;
  }

  #aliased(packet: Packet): Packet {
    return this.#outAliases ? this.#outAliases.apply(packet) : packet;
  }

  #onPacket(link: Link, p: Packet): Promise<void> | undefined {
    const session = this.#session;
    const id: number = p.messageId;
    switch (p.cmd) {
      case "publish":
        return this.#onPublish(link, p);
      case "puback": {
        const o = session.outgoing.get(id);
        if (o?.stage !== "puback") return;
        session.finish(id);
        this.#settle(o, p, "publish");
        return;
      }
      case "pubrec": {
        const o = session.outgoing.get(id);
        if (o?.stage === "pubrec") {
          if ((p.reasonCode ?? 0) >= 0x80) {
            session.finish(id);
            this.#settle(o, p, "publish");
            return;
          }
          o.stage = "pubcomp";
        }
        const rel: Packet = { cmd: "pubrel", messageId: id };
        if (!o && this.protocolVersion === 5) rel.reasonCode = 0x92;
        link.sendQuiet(rel);
        return;
      }
      case "pubcomp": {
        const o = session.outgoing.get(id);
        if (o?.stage !== "pubcomp") return;
        session.finish(id);
        // 0x92 answers a PUBREL resent to a session the broker no longer
        // has: the PUBREC had come, so the broker owned the message.
        o.done.resolve();
        return;
      }
      case "pubrel":
        session.incoming.delete(id);
        link.sendQuiet({ cmd: "pubcomp", messageId: id });
        return;
      case "suback":
      case "unsuback": {
        const r = session.requests.get(id);
        if (r) {
          session.requests.delete(id);
          r.done.resolve(p);
        }
        return;
      }
      case "disconnect":
        link.end(
          new MqttError(
            `mqtt ${this.#label}: broker disconnected`,
            p.reasonCode ?? 0,
            p.properties?.reasonString,
          ),
        );
        return;
      default:
        link.end(
          new ProtocolError(`mqtt ${this.#label}: unexpected ${p.cmd.toUpperCase()} packet`),
        );
    }
  }

  #settle(o: { packet: Packet; done: PromiseWithResolvers<void> }, ack: Packet, op: string): void {
    const code = ack.reasonCode ?? 0;
    if (code >= 0x80) {
      o.done.reject(
        new MqttError(`${op} ${o.packet.topic}`, code, ack.properties?.reasonString),
      );
    } else o.done.resolve();
  }

  #onPublish(link: Link, p: Packet): Promise<void> | undefined {
    let topic: string;
    try {
      topic = this.#inAliases.topicOf(p);
    } catch (err) {
      link.end(err as Error);
      return;
    }
    const qos = p.qos as QoS;
    const id: number = p.messageId;
    if (qos === 2) {
      if (this.#session.incoming.has(id)) {
        link.sendQuiet({ cmd: "pubrec", messageId: id });
        return;
      }
      this.#session.incoming.add(id);
    }
    const msg = p.properties
      ? { topic, payload: p.payload, qos, retain: p.retain, dup: p.dup, properties: p.properties }
      : { topic, payload: p.payload, qos, retain: p.retain, dup: p.dup };
    const wait = this.#router.route(msg);
    if (qos === 0) return wait;
    const ack: Packet = { cmd: qos === 1 ? "puback" : "pubrec", messageId: id };
    if (!wait) {
      link.sendQuiet(ack);
      return;
    }
    return wait.then(() => link.sendQuiet(ack));
  }

  /** Sends a SUBSCRIBE or UNSUBSCRIBE and waits for its acknowledgement. */
  #request(packet: Packet, what: string, opts: WaitOptions | undefined): Promise<Packet> {
    if (this.#closed) return Promise.reject(new ClosedError(`mqtt ${this.#label}`));
    const id = this.#session.nextId();
    packet.messageId = id;
    const done = Promise.withResolvers<Packet>();
    abandon(done.promise);
    this.#session.requests.set(id, { packet, done });
    this.#link?.sendQuiet(packet);
    return race(what, done.promise, opts);
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
   * @example
   * ```ts
   * import { connect } from "@lunet/lunet/mqtt";
   * const client = await connect("mqtt://127.0.0.1:1883");
   * await client.publish(`sensors/${crypto.randomUUID()}/temp`, "21.5", { qos: 1 });
   * await client.close();
   * ```
   */
  publish(topic: string, payload: string | Uint8Array, opts?: PublishOptions): Promise<void> {
    let packet: Packet;
    try {
      const alias = this.protocolVersion === 5 && opts?.properties?.topicAlias;
      if (!(alias && topic === "")) checkTopicName(topic);
      const qos = checkQos(opts?.qos ?? 0, `publish ${topic}`);
      if (this.#closed) throw new ClosedError(`publish ${topic} (${this.#label})`);
      packet = { cmd: "publish", topic, payload: toBuffer(payload), qos };
    } catch (err) {
      return Promise.reject(err);
    }
    if (opts?.retain) packet.retain = true;
    if (this.protocolVersion === 5 && opts?.properties) {
      packet.properties = wireProperties(opts.properties);
    }
    const link = this.#link;
    if (packet.qos === 0 && link && this.#session.offline.length === 0) {
      return race(`publish ${topic}`, link.send(this.#aliased(packet)), opts);
    }
    return this.#publish(packet, opts);
  }

  async #publish(packet: Packet, opts: PublishOptions | undefined): Promise<void> {
    const what = `publish ${packet.topic}`;
    const session = this.#session;
    if (!this.#link || session.offline.length > 0) {
      const q = session.enqueue(packet, what);
      abandon(q.done.promise);
      return race(what, q.done.promise, opts);
    }
    if (packet.qos === 0) return race(what, this.#link.send(this.#aliased(packet)), opts);
    const wait = budget(opts);
    for (let slot; (slot = session.slot(what, wait));) await slot;
    if (this.#closed) throw new ClosedError(`${what} (${this.#label})`);
    return race(what, this.#dispatch(this.#link, packet, Date.now()), wait);
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
    if (this.#closed) return Promise.reject(new ClosedError(`subscribe (${this.#label})`));
    return this.#router.subscribe(typeof filters === "string" ? [filters] : [...filters], opts);
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
    if (this.#closed) return Promise.reject(new ClosedError(`unsubscribe (${this.#label})`));
    return this.#router.unsubscribe(typeof filters === "string" ? [filters] : [...filters], opts);
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
  async close(opts?: CloseOptions): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const link = this.#link;
    this.#link = undefined;
    if (link && !link.closed && !(opts?.sendWill && this.protocolVersion === 4)) {
      const bye: Packet = { cmd: "disconnect" };
      if (this.protocolVersion === 5) bye.reasonCode = opts?.sendWill ? 0x04 : 0;
      await outsideTask(() => race("mqtt close", link.send(bye), { timeout: 1000 })).catch(ignore);
    }
    link?.close();
    this.#task?.cancel();
    await this.#task?.then(ignore, ignore);
    this.#shutdown(new ClosedError(`mqtt ${this.#label}`));
  }

  #shutdown(reason: Error): void {
    this.#closed = true;
    this.#session.failAll(() => reason);
    this.#router.endAll(reason instanceof ClosedError ? undefined : reason);
    if (this.#trace >= 0) {
      traceClose("mqtt", this.#trace);
      this.#trace = -1;
    }
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
  const client = makeClient(url, opts ?? {});
  await startClient(client, opts ?? {});
  return client;
}

function toBuffer(data: string | Uint8Array): Buffer {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function wireProperties<T extends { correlationData?: Uint8Array }>(props: T): T {
  if (!props.correlationData) return props;
  return { ...props, correlationData: toBuffer(props.correlationData) };
}

function positive(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`mqtt connect: ${name} must be a positive integer, got ${n}`);
  }
  return n;
}

function randomHex(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(n / 2)));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("").slice(0, n);
}

function ignore(): void {}

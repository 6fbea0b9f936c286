/**
 * The session engine behind `MqttClient`: the first connect,
 * the supervisor that reconnects with back-off and resumes the session
 * (subscribing again, resending what is in flight, draining the offline
 * queue), the publish paths within the inflight window, SUBSCRIBE and
 * UNSUBSCRIBE requests, and the shutdown that fails what still waits.
 *
 * @module
 */
import { ClosedError, MessageTooLong, TimeoutError } from "../errors.ts";
import { spawn, type Task } from "../task.ts";
import { sleep } from "../sleep.ts";
import { traceClose, traceOpen } from "../trace.ts";
import { abandon, budget, race, type WaitOptions } from "../_wait.ts";
import { MQTT_MAX_PACKET, type Packet } from "./_codec.ts";
import { outsideTask } from "./_detached.ts";
import { Link, type LinkSettings } from "./_link.ts";
import { parseBrokerUrl } from "./_transport.ts";
import { SessionState, unexpired } from "./_session.ts";
import { Router } from "./_router.ts";
import { IncomingAliases, OutgoingAliases } from "./_alias.ts";
import { Inbound } from "./_inbound.ts";
import { connectPacket } from "./_wire.ts";
import type { MqttConnectOptions, PublishOptions } from "./options.ts";

const DEFAULT_MAX_PACKET = 16 * 1024 * 1024;

/** See the module notes. */
export class Engine {
  /** MQTT protocol version in use: 4 (3.1.1) or 5. */
  readonly protocolVersion: 4 | 5;
  #clientId: string;
  #opts: MqttConnectOptions;
  #settings: LinkSettings;
  #session: SessionState;
  readonly router: Router;
  #link: Link | undefined;
  #task: Task<void> | undefined;
  #closed = false;
  #lastError: Error | undefined;
  #keepalive: number;
  #window: number;
  #inbound: Inbound;
  #outAliases: OutgoingAliases | undefined;
  #trace = 0;
  readonly label: string;

  constructor(url: string | URL, opts: MqttConnectOptions) {
    const broker = parseBrokerUrl(url);
    const version = opts.protocolVersion ?? 4;
    if (version !== 4 && version !== 5) {
      throw new RangeError(`mqtt connect: protocolVersion must be 4 or 5, got ${version}`);
    }
    this.protocolVersion = version;
    this.label = broker.label;
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
    this.router = new Router(version, (p, what, o) => this.#request(p, what, o));
    this.#inbound = new Inbound(
      this.#session,
      this.router,
      version,
      broker.label,
      new IncomingAliases(opts.topicAliasMaximum ?? 0, broker.label),
    );
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
    return connectPacket(
      this.#opts,
      this.protocolVersion,
      this.#clientId,
      this.#keepalive,
      this.#settings.maxPacketSize,
      first,
    );
  }

  /** Opens the first connection within `opts`, then keeps the session going. */
  async start(opts: MqttConnectOptions): Promise<void> {
    const link = await Link.open(this.#settings, this.#connectPacket(true), opts);
    this.#trace = traceOpen("mqtt", this.label);
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
    this.#inbound.aliases = new IncomingAliases(this.#opts.topicAliasMaximum ?? 0, this.label);
    const session = this.#session;
    if (!ack.sessionPresent) {
      session.incoming.clear();
      this.router.resubscribe();
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
      await link.run((p) => this.#inbound.handle(link, p));
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
        return await Link.open(this.#settings, this.#connectPacket(false), undefined);
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
      link.send(this.#aliased(entry.packet)).catch((err) => {
        // Too large for this broker: it would never go. Anything else ends
        // the link, and the message goes again after the reconnect.
        if (!(err instanceof MessageTooLong)) return;
        session.finish(id);
        entry.done.reject(err);
      });
    }
    return entry.done.promise;
  }

  #aliased(packet: Packet): Packet {
    return this.#outAliases ? this.#outAliases.apply(packet) : packet;
  }

  /** Sends a SUBSCRIBE or UNSUBSCRIBE and waits for its acknowledgement. */
  #request(packet: Packet, what: string, opts: WaitOptions | undefined): Promise<Packet> {
    if (this.#closed) return Promise.reject(new ClosedError(`mqtt ${this.label}`));
    const id = this.#session.nextId();
    packet.messageId = id;
    const done = Promise.withResolvers<Packet>();
    abandon(done.promise);
    this.#session.requests.set(id, { packet, done });
    this.#link?.sendQuiet(packet);
    return race(what, done.promise, opts);
  }

  /** Publishes a checked PUBLISH packet; see `MqttClient.publish`. */
  publish(packet: Packet, opts: PublishOptions | undefined): Promise<void> {
    const link = this.#link;
    if (packet.qos === 0 && link && this.#session.offline.length === 0) {
      return race(`publish ${packet.topic}`, link.send(this.#aliased(packet)), opts);
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
    if (this.#closed) throw new ClosedError(`${what} (${this.label})`);
    return race(what, this.#dispatch(this.#link, packet, Date.now()), wait);
  }

  #shutdown(reason: Error): void {
    this.#closed = true;
    this.#session.failAll(() => reason);
    this.router.endAll(reason instanceof ClosedError ? undefined : reason);
    if (this.#trace >= 0) {
      traceClose("mqtt", this.#trace);
      this.#trace = -1;
    }
  }

  /** Sends DISCONNECT (unless `sendWill` on 3.1.1) and ends everything. */
  async close(sendWill: boolean): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const link = this.#link;
    this.#link = undefined;
    if (link && !link.closed && !(sendWill && this.protocolVersion === 4)) {
      const bye: Packet = { cmd: "disconnect" };
      if (this.protocolVersion === 5) bye.reasonCode = sendWill ? 0x04 : 0;
      await outsideTask(() => race("mqtt close", link.send(bye), { timeout: 1000 })).catch(ignore);
    }
    link?.close();
    this.#task?.cancel();
    await this.#task?.then(ignore, ignore);
    this.#shutdown(new ClosedError(`mqtt ${this.label}`));
  }
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

/**
 * One connection to the broker: the CONNECT/CONNACK handshake, the read
 * loop that turns bytes into packets, batched writes, and the keep-alive
 * pings. A client makes a new link for each (re)connection.
 *
 * @module
 */
import { ClosedError, ConnectionReset, ProtocolError, TimeoutError } from "../errors.ts";
import { sleep } from "../sleep.ts";
import { abandon, budget, race, type WaitOptions } from "../_wait.ts";
import { Encoder, Framer, loadCodec, type Packet } from "./_codec.ts";
import { outsideTask } from "./_detached.ts";
import { openTransport, type Transport, type TransportSettings } from "./_transport.ts";
import type { BrokerUrl } from "./_transport.ts";
import { MqttError, v4ConnackReason } from "./errors.ts";

/** What a link needs to know to open. */
export interface LinkSettings {
  broker: BrokerUrl;
  transport: TransportSettings;
  protocolVersion: 4 | 5;
  maxPacketSize: number;
}

const PINGREQ: Packet = { cmd: "pingreq" };

/** The control packet type of CONNACK (the first byte's high four bits). */
const CONNACK_TYPE = 2;

/** Control packet names by type, as mqtt-packet spells them. */
const PACKET_NAMES = [
  "reserved",
  "connect",
  "connack",
  "publish",
  "puback",
  "pubrec",
  "pubrel",
  "pubcomp",
  "subscribe",
  "suback",
  "unsubscribe",
  "unsuback",
  "pingreq",
  "pingresp",
  "disconnect",
  "auth",
];

/** How long a connect may take, CONNACK included, when its caller sets no timeout or deadline. */
const CONNECT_TIMEOUT = 30_000;

/** A live connection; see the module notes. */
export class Link {
  readonly protocolVersion: 4 | 5;
  readonly label: string;
  /** The CONNACK the broker answered with. */
  connack: Packet = { cmd: "connack" };
  /** Why the link ended, when it was ended from our side (keep-alive, DISCONNECT). */
  failure: Error | undefined;
  /** True while delivery waits for a full subscription buffer (reads paused). */
  stalled = false;
  lastSent = 0;
  lastReceived = 0;
  lastPingResp = 0;
  #conn: Transport;
  #framer: Framer;
  #early: Packet[] = [];
  #closed = false;
  #encoder: Encoder;
  #batch: PromiseWithResolvers<void> | undefined;
  #writing = false;
  // While the packets of one read are handled, their answers (acks) are
  // collected and go out in one write after the last of them.
  #corked = false;
  // The broker's maximum packet size (MQTT 5.0 CONNACK), for what we send.
  #maxOut = Infinity;

  private constructor(conn: Transport, settings: LinkSettings) {
    this.#conn = conn;
    this.protocolVersion = settings.protocolVersion;
    this.label = settings.broker.label;
    this.#framer = new Framer(settings.protocolVersion, settings.maxPacketSize, this.label);
    this.#encoder = new Encoder(settings.protocolVersion);
  }

  /**
   * Connects, sends `connect` and waits for the CONNACK within `opts`.
   * Throws {@linkcode MqttError} when the broker refuses the connection.
   */
  static async open(
    settings: LinkSettings,
    connect: Packet,
    opts: WaitOptions | undefined,
  ): Promise<Link> {
    const bounded = opts?.timeout !== undefined || opts?.deadline !== undefined;
    const wait = budget(bounded ? opts : { ...opts, timeout: CONNECT_TIMEOUT });
    await loadCodec(`connect ${settings.broker.label}`);
    const conn = await openTransport(settings.broker, settings.transport, wait);
    const link = new Link(conn, settings);
    try {
      await link.#handshake(connect, wait);
    } catch (err) {
      link.close();
      throw err;
    }
    return link;
  }

  async #handshake(connect: Packet, wait: WaitOptions | undefined): Promise<void> {
    await race(`connect ${this.label}`, this.send(connect), wait);
    for (let begun = false;;) {
      const chunk = await this.#conn.read(wait);
      if (chunk === null) {
        throw new ConnectionReset(`connect ${this.label}: broker closed the connection`);
      }
      // The first byte names the first packet: anything but CONNACK is
      // refused before its body (which may never come) is awaited.
      if (!begun && chunk.length > 0) {
        begun = true;
        const type = chunk[0] >> 4;
        if (type !== CONNACK_TYPE) {
          throw new ProtocolError(
            `connect ${this.label}: expected CONNACK, got ${PACKET_NAMES[type]}`,
          );
        }
      }
      const packets = this.#framer.push(chunk);
      if (packets.length === 0) continue;
      const first = packets[0];
      if (first.cmd !== "connack") {
        throw new ProtocolError(`connect ${this.label}: expected CONNACK, got ${first.cmd}`);
      }
      const code = this.protocolVersion === 5
        ? first.reasonCode ?? 0
        : first.returnCode
        ? v4ConnackReason(first.returnCode)
        : 0;
      if (code >= 0x80) {
        throw new MqttError(`connect ${this.label}`, code, first.properties?.reasonString);
      }
      this.connack = first;
      this.#maxOut = first.properties?.maximumPacketSize ?? Infinity;
      this.#early = packets.slice(1);
      this.lastReceived = Date.now();
      return;
    }
  }

  /** True once {@linkcode Link.close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Writes `packet` (batched with others written meanwhile); resolves once
   * the batch is handed to the connection.
   */
  send(packet: Packet): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError(`mqtt ${this.label}`));
    try {
      this.#encoder.encode(packet, this.#maxOut);
    } catch (err) {
      return Promise.reject(err);
    }
    this.lastSent = Date.now();
    if (!this.#writing && !this.#corked) this.#flushSoon();
    return this.#nextBatch().promise;
  }

  /** {@linkcode Link.send} whose failure only ends the link (it is reported by the read loop). */
  sendQuiet(packet: Packet): void {
    if (this.#closed) return;
    try {
      this.#encoder.encode(packet);
    } catch (err) {
      this.end(err as Error);
      return;
    }
    this.lastSent = Date.now();
    if (!this.#writing && !this.#corked) this.#flushSoon();
    this.#nextBatch();
  }

  /**
   * Writes at the end of the current microtask run rather than at once, so
   * a burst of sends (a loop of publishes, the acks of one read) goes out
   * as one write.
   */
  #flushSoon(): void {
    this.#corked = true;
    queueMicrotask(this.#uncorkLater);
  }

  #uncorkLater = (): void => this.#uncork();

  #nextBatch(): PromiseWithResolvers<void> {
    let batch = this.#batch;
    if (!batch) {
      batch = this.#batch = Promise.withResolvers<void>();
      abandon(batch.promise);
    }
    return batch;
  }

  #uncork(): void {
    this.#corked = false;
    if (!this.#writing && this.#batch) this.#flush();
  }

  async #write(bytes: Uint8Array): Promise<void> {
    try {
      await outsideTask(() => this.#conn.write(bytes));
    } catch (err) {
      this.#writing = false;
      this.#failBatch(err);
      this.close();
      throw err;
    }
    this.#flush();
  }

  #flush(): void {
    const batch = this.#batch;
    if (!batch || this.#closed) {
      this.#writing = false;
      return;
    }
    this.#writing = true;
    const bytes = this.#encoder.take();
    this.#batch = undefined;
    this.#write(bytes).then(batch.resolve, batch.reject);
  }

  #failBatch(err: unknown): void {
    const batch = this.#batch;
    this.#batch = undefined;
    if (batch) {
      abandon(batch.promise);
      batch.reject(err);
    }
  }

  /**
   * Reads packets and hands each to `handle` until the connection ends;
   * a promise returned by `handle` pauses reading until it settles.
   * Always ends by throwing: the reason the link is gone.
   */
  async run(handle: (packet: Packet) => void | Promise<void>): Promise<never> {
    try {
      for (const p of this.#early) {
        const r = handle(p);
        if (r) await this.#stall(r);
      }
      this.#early = [];
      for (;;) {
        const chunk = await this.#conn.read();
        if (chunk === null) {
          throw new ConnectionReset(`mqtt ${this.label}: broker closed the connection`);
        }
        this.lastReceived = Date.now();
        const packets = this.#framer.push(chunk);
        this.#corked = true;
        for (let i = 0; i < packets.length; i++) {
          const p = packets[i];
          if (p.cmd === "pingresp") {
            this.lastPingResp = this.lastReceived;
            continue;
          }
          const r = handle(p);
          if (r) {
            this.#uncork();
            await this.#stall(r);
          }
        }
        if (this.#corked) this.#uncork();
      }
    } catch (err) {
      throw this.failure ?? err;
    } finally {
      this.close();
    }
  }

  async #stall(wait: Promise<void>): Promise<void> {
    this.stalled = true;
    try {
      await wait;
    } finally {
      this.stalled = false;
      this.lastReceived = Date.now();
    }
  }

  /**
   * Sends PINGREQ whenever `keepalive` ms pass without traffic either way,
   * and ends the link when no PINGRESP follows within `pingTimeout` ms.
   * Returns when the link closes.
   */
  async keepalive(keepalive: number, pingTimeout: number): Promise<void> {
    while (!this.#closed) {
      const quiet = Date.now() - Math.min(this.lastSent, this.lastReceived);
      if (quiet < keepalive) {
        await sleep(keepalive - quiet);
        continue;
      }
      const sentAt = Date.now();
      this.sendQuiet(PINGREQ);
      await sleep(pingTimeout);
      if (this.#closed) return;
      if (this.lastPingResp < sentAt && !this.stalled) {
        this.end(
          new TimeoutError(`mqtt ${this.label} keep-alive: no PINGRESP within ${pingTimeout} ms`),
        );
        return;
      }
    }
  }

  /** Ends the link for `reason` (reported by {@linkcode Link.run}). */
  end(reason: Error): void {
    this.failure ??= reason;
    this.close();
  }

  /** Closes the connection at once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failBatch(new ClosedError(`mqtt ${this.label}`));
    this.#conn.close();
  }
}

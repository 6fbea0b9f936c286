/**
 * What the client does with each packet the broker sends: the QoS
 * handshakes of both directions, SUBACK/UNSUBACK, a server DISCONNECT, and
 * received messages (aliases resolved, QoS 2 duplicates dropped) handed to
 * the router, acknowledged once a subscription buffer took them.
 *
 * @module
 */
import { ProtocolError } from "../errors.ts";
import type { Packet } from "./_codec.ts";
import type { IncomingAliases } from "./_alias.ts";
import type { Link } from "./_link.ts";
import type { Router } from "./_router.ts";
import type { SessionState } from "./_session.ts";
import { MqttError } from "./errors.ts";
import type { QoS } from "./options.ts";

/** QoS 1/2 messages waiting for room in a full subscription before reading pauses. */
const MAX_WAITING = 1000;

/** See the module notes; `aliases` is replaced for each connection. */
export class Inbound {
  #session: SessionState;
  #router: Router;
  #label: string;
  #waiting = 0;

  constructor(
    session: SessionState,
    router: Router,
    readonly protocolVersion: 4 | 5,
    label: string,
    public aliases: IncomingAliases,
  ) {
    this.#session = session;
    this.#router = router;
    this.#label = label;
  }

  /** Handles `p`; a promise means: read no more until it settles (backpressure). */
  handle(link: Link, p: Packet): Promise<void> | undefined {
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
      topic = this.aliases.topicOf(p);
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
    if (qos === 0) return;
    const ack: Packet = { cmd: qos === 1 ? "puback" : "pubrec", messageId: id };
    if (!wait) {
      link.sendQuiet(ack);
      return;
    }
    // A full subscription: acknowledge once it took the message. Reading
    // goes on (acks of our own publishes, pings); only past a bound set by
    // a broker that ignores its inflight limit does it pause.
    this.#waiting++;
    const acked = wait.then(() => {
      this.#waiting--;
      link.sendQuiet(ack);
    });
    return this.#waiting > MAX_WAITING ? acked : undefined;
  }
}

/**
 * MQTT 5.0 topic aliases (§3.3.2.3.4), both ways: the broker's aliases for
 * the topics it sends us, and ours for the topics we publish to. Both
 * maps live as long as one connection.
 *
 * @module
 */
import { ProtocolError } from "../errors.ts";
import type { Packet } from "./_codec.ts";

/** Resolves the aliases the broker uses; at most `max` (what CONNECT allowed). */
export class IncomingAliases {
  #topics = new Map<number, string>();
  constructor(readonly max: number, readonly where: string) {}

  /** The topic of a received PUBLISH, recording or applying its alias. */
  topicOf(packet: Packet): string {
    const alias: number | undefined = packet.properties?.topicAlias;
    if (alias === undefined) return packet.topic;
    if (alias < 1 || alias > this.max) {
      throw new ProtocolError(
        `${this.where}: topic alias ${alias} outside 1..${this.max} (0x94 topic alias invalid)`,
      );
    }
    if (packet.topic) {
      this.#topics.set(alias, packet.topic);
      return packet.topic;
    }
    const topic = this.#topics.get(alias);
    if (topic === undefined) {
      throw new ProtocolError(
        `${this.where}: unknown topic alias ${alias} (0x94 topic alias invalid)`,
      );
    }
    return topic;
  }
}

/** Gives the first `max` topics published aliases (the broker's topic alias maximum). */
export class OutgoingAliases {
  #aliases = new Map<string, number>();
  constructor(readonly max: number) {}

  /**
   * The packet to send for `packet`: with an alias set on first use, and
   * with the alias alone (empty topic) afterwards. `packet` is not changed.
   */
  apply(packet: Packet): Packet {
    const known = this.#aliases.get(packet.topic);
    if (known !== undefined) {
      return { ...packet, topic: "", properties: { ...packet.properties, topicAlias: known } };
    }
    if (this.#aliases.size >= this.max) return packet;
    const alias = this.#aliases.size + 1;
    this.#aliases.set(packet.topic, alias);
    return { ...packet, properties: { ...packet.properties, topicAlias: alias } };
  }
}

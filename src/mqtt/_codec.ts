/**
 * The wire codec: packets are generated and parsed by `npm:mqtt-packet`
 * (the codec of MQTT.js and Aedes), loaded only by lunet/mqtt. In front of
 * its parser sits a framer of our own that reads each fixed header first,
 * so an oversized or malformed packet is refused before its body is
 * buffered, and only whole packets reach the parser.
 *
 * @module
 */
import mqttPacket from "mqtt-packet";
import { Buffer } from "node:buffer";
import { ProtocolError } from "../errors.ts";

/** A packet as mqtt-packet shapes it (`cmd` plus the fields of that kind). */
// deno-lint-ignore no-explicit-any
export type Packet = { cmd: string; [field: string]: any };

/** The largest packet MQTT can frame (remaining length 268,435,455). */
export const MQTT_MAX_PACKET = 268_435_455 + 5;

/** Encodes `packet` for protocol version 4 (3.1.1) or 5. */
export function encode(packet: Packet, protocolVersion: 4 | 5): Uint8Array {
  // deno-lint-ignore no-explicit-any
  return mqttPacket.generate(packet as any, { protocolVersion });
}

/**
 * Splits a byte stream into packets. `push(chunk)` returns the packets the
 * chunk completes (possibly none); it throws {@linkcode ProtocolError} for
 * a malformed length, a packet over `maxPacketSize`, or a body the parser
 * rejects. After a throw the framer must not be used again.
 */
export class Framer {
  #parser: ReturnType<typeof mqttPacket.parser>;
  #max: number;
  #out: Packet[] = [];
  #error: Error | undefined;
  // A packet whose fixed header was read but whose body is incomplete.
  #parts: Uint8Array[] = [];
  #partBytes = 0;
  #need = 0;

  constructor(protocolVersion: 4 | 5, maxPacketSize: number, readonly where: string) {
    this.#max = maxPacketSize;
    this.#parser = mqttPacket.parser({ protocolVersion });
    this.#parser.on("packet", (p: Packet) => this.#out.push(p));
    this.#parser.on("error", (e: Error) => this.#error ??= e);
  }

  /** Feeds received bytes; returns the packets they complete. */
  push(chunk: Uint8Array): Packet[] {
    let data = chunk;
    if (this.#parts.length > 0) {
      this.#parts.push(chunk);
      this.#partBytes += chunk.length;
      if (this.#need > 0 && this.#partBytes < this.#need) return [];
      data = concat(this.#parts, this.#partBytes);
      this.#parts = [];
      this.#partBytes = 0;
    }
    this.#need = 0;
    let pos = 0;
    const len = data.length;
    while (len - pos >= 2) {
      let remaining = 0, mul = 1, i = pos + 1, done = false;
      for (; i < len && i < pos + 5; i++) {
        const b = data[i];
        remaining += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          done = true;
          i++;
          break;
        }
      }
      if (!done) {
        if (i >= pos + 5) {
          throw new ProtocolError(
            `${this.where}: malformed packet (remaining length over 4 bytes)`,
          );
        }
        break;
      }
      const total = i - pos + remaining;
      if (total > this.#max) {
        throw new ProtocolError(
          `${this.where}: packet of ${total} bytes exceeds the limit of ${this.#max} bytes`,
        );
      }
      if (pos + total > len) {
        this.#need = total;
        break;
      }
      pos += total;
    }
    if (pos < len) {
      const rest = data.subarray(pos);
      this.#parts.push(rest);
      this.#partBytes = rest.length;
    }
    if (pos === 0) return [];
    this.#parser.parse(Buffer.from(data.buffer, data.byteOffset, pos));
    if (this.#error) {
      throw new ProtocolError(
        `${this.where}: malformed packet (${this.#error.message})`,
        undefined,
        {
          cause: this.#error,
        },
      );
    }
    const out = this.#out;
    this.#out = [];
    return out;
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

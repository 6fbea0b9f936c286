/**
 * The wire codec: packets are generated and parsed by `npm:mqtt-packet`
 * (the codec of MQTT.js and Aedes), loaded by lunet/mqtt on its first
 * connect. In front of
 * its parser sits a framer of our own that reads each fixed header first,
 * so an oversized or malformed packet is refused before its body is
 * buffered, and only whole packets reach the parser.
 *
 * @module
 */
import type * as MqttPacket from "mqtt-packet";
import { Buffer } from "node:buffer";
import { MessageTooLong, PermissionDenied, ProtocolError } from "../errors.ts";

type Codec = Pick<typeof MqttPacket, "parser" | "writeToStream">;
let mqttPacket: Codec;

/**
 * Loads npm:mqtt-packet on first use. Its dependencies read the
 * environment as they load (`debug` lists every variable), so without
 * `--allow-env` this fails with a `PermissionDenied` that says so.
 */
export async function loadCodec(where: string): Promise<void> {
  if (mqttPacket) return;
  try {
    const mod = await import("mqtt-packet");
    mqttPacket = (mod.default ?? mod) as unknown as Codec;
  } catch (err) {
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      throw new PermissionDenied(
        `${where}: lunet/mqtt needs --allow-env (its codec, npm:mqtt-packet, reads the ` +
          `environment when it loads)`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** A packet as mqtt-packet shapes it (`cmd` plus the fields of that kind). */
// deno-lint-ignore no-explicit-any
export type Packet = { cmd: string; [field: string]: any };

/** The largest packet MQTT can frame (remaining length 268,435,455). */
export const MQTT_MAX_PACKET = 268_435_455 + 5;

const textEncoder = new TextEncoder();
const INITIAL = 16 * 1024, KEEP_AT_MOST = 1024 * 1024;

/**
 * Encodes packets (mqtt-packet's `writeToStream`, with this object as the
 * stream) straight into one buffer, so the packets written while a write
 * is in flight go out as one batch without a copy per packet. Two buffers
 * take turns: {@linkcode Encoder.take} hands out the filled one, which
 * must stay untouched until its write is done, and fills the other next.
 */
export class Encoder {
  #buf: Uint8Array = new Uint8Array(INITIAL);
  #spare: Uint8Array | undefined;
  #len = 0;
  #error: Error | undefined;

  constructor(readonly protocolVersion: 4 | 5) {}

  /** Bytes waiting to be taken. */
  get length(): number {
    return this.#len;
  }

  /**
   * Appends `packet`; throws (appending nothing) when mqtt-packet refuses
   * it, or when it is larger than `limit` bytes (the broker's maximum).
   */
  encode(packet: Packet, limit = Infinity): void {
    const start = this.#len;
    this.#error = undefined;
    // deno-lint-ignore no-explicit-any
    mqttPacket.writeToStream(packet as any, this as any, { protocolVersion: this.protocolVersion });
    const err = this.#error as Error | undefined;
    if (err) {
      this.#len = start;
      throw new TypeError(`mqtt ${packet.cmd}: ${err.message}`, { cause: err });
    }
    const size = this.#len - start;
    if (size > limit) {
      this.#len = start;
      const what = packet.topic ? `${packet.cmd} ${packet.topic}` : packet.cmd;
      throw new MessageTooLong(
        `${what}: packet of ${size} bytes exceeds the broker's maximum packet size (${limit} bytes)`,
      );
    }
  }

  /** The bytes appended so far; the next ones go to the other buffer. */
  take(): Uint8Array {
    const out = this.#buf.subarray(0, this.#len);
    const next = this.#spare;
    this.#spare = this.#buf.length > KEEP_AT_MOST ? undefined : this.#buf;
    this.#buf = next ?? new Uint8Array(INITIAL);
    this.#len = 0;
    return out;
  }

  /** The stream interface writeToStream uses. */
  write(chunk: Uint8Array | string): boolean {
    if (typeof chunk === "string") {
      this.#room(chunk.length * 3);
      this.#len += textEncoder.encodeInto(chunk, this.#buf.subarray(this.#len)).written;
    } else {
      this.#room(chunk.length);
      this.#buf.set(chunk, this.#len);
      this.#len += chunk.length;
    }
    return true;
  }

  /** writeToStream reports a packet it cannot encode here. */
  destroy(err?: Error): void {
    this.#error ??= err ?? new Error("cannot encode the packet");
  }

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.#buf.subarray(0, this.#len));
    this.#buf = bigger;
  }
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
    try {
      this.#parser.parse(Buffer.from(data.buffer, data.byteOffset, pos));
    } catch (err) {
      // A parser that throws instead of reporting: the same verdict.
      this.#error ??= err instanceof Error ? err : new Error(String(err));
    }
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

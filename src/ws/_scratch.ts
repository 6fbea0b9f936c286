/**
 * The reusable buffers of this worker's WebSocket connections: one to
 * read into (a chunk is parsed before the next read, and what outlives
 * it is copied out), one to encode a frame into when the write is
 * expected to complete at once, and random bytes for masking keys (drawn
 * from the CSPRNG a few KiB at a time, each used once). Connections hold
 * no buffer of their own, idle or busy.
 *
 * @module
 */

const READ_SIZE = 64 * 1024;
// Frames up to this size are encoded into the shared buffer.
const FRAME_MAX = 64 * 1024;
const KEY_BYTES = 4096;

/** The shared buffers of one worker. */
export class WsScratch {
  #read: Uint8Array | undefined;
  #frame: Uint8Array | undefined;
  #keys: Uint32Array | undefined;
  #nextKey = 0;

  /** The read buffer: its bytes are only valid until the next read. */
  read(): Uint8Array {
    return this.#read ??= new Uint8Array(READ_SIZE);
  }

  /**
   * A buffer for a frame of `size` bytes: the shared one when it fits
   * (give it up with {@linkcode WsScratch.lose} if the frame's write keeps
   * it), else a fresh one.
   */
  frame(size: number): Uint8Array {
    if (size > FRAME_MAX) return new Uint8Array(size);
    return this.#frame ??= new Uint8Array(FRAME_MAX);
  }

  /** A fresh random masking key, as a 32-bit word. */
  maskKey(): number {
    let keys = this.#keys;
    if (keys === undefined || this.#nextKey === keys.length) {
      keys = this.#keys ??= new Uint32Array(KEY_BYTES / 4);
      crypto.getRandomValues(keys);
      this.#nextKey = 0;
    }
    const key = keys[this.#nextKey];
    keys[this.#nextKey++] = 0;
    return key;
  }

  /** A write kept `buf` (from {@linkcode WsScratch.frame}): the next frame gets a new buffer. */
  lose(buf: Uint8Array): void {
    if (buf.buffer === this.#frame?.buffer) this.#frame = undefined;
  }
}

/** The buffers of this worker. */
export const scratch: WsScratch = new WsScratch();

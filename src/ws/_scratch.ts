/**
 * The reusable buffers of this worker's WebSocket connections: one to
 * read into (a chunk is parsed before the next read, and what outlives
 * it is copied out), and one to encode a frame into when the write is
 * expected to complete at once. Connections hold no buffer of their own,
 * idle or busy.
 *
 * @module
 */
import { frameSize } from "./_frame.ts";

const READ_SIZE = 64 * 1024;
// Frames up to this size are encoded into the shared buffer.
const FRAME_MAX = 64 * 1024;

/** The shared buffers of one worker. */
export class WsScratch {
  #read: Uint8Array | undefined;
  #frame: Uint8Array | undefined;

  /** The read buffer: its bytes are only valid until the next read. */
  read(): Uint8Array {
    return this.#read ??= new Uint8Array(READ_SIZE);
  }

  /**
   * A buffer for a frame of a `len`-byte payload: the shared one when it
   * fits (give it up with {@linkcode WsScratch.lose} if the frame's write
   * keeps it), else a fresh one.
   */
  frame(len: number, mask: boolean): Uint8Array {
    const size = frameSize(len, mask);
    if (size > FRAME_MAX) return new Uint8Array(size);
    return this.#frame ??= new Uint8Array(FRAME_MAX);
  }

  /** A write kept `buf` (from {@linkcode WsScratch.frame}): the next frame gets a new buffer. */
  lose(buf: Uint8Array): void {
    if (buf.buffer === this.#frame?.buffer) this.#frame = undefined;
  }
}

/** The buffers of this worker. */
export const scratch: WsScratch = new WsScratch();

/**
 * The buffers of synchronous reads (backends with `tryRead`), one set per
 * backend instance: the bytes of a small read are copied out before
 * anything else runs, so the connections of a backend share one buffer
 * and hold none of their own, idle or busy.
 *
 * @module
 */
import type { Backend } from "./_backend/types.ts";

/** One backend's read buffers: a shared one for small reads and a spare fresh one. */
export class ReadScratch {
  #shared = new Uint8Array(0);
  #view = this.#shared;
  // A fresh buffer a read found nothing for, kept for the next such read.
  #spare: Uint8Array | undefined;

  /** The shared buffer, `size` bytes long; its bytes must be copied out at once. */
  shared(size: number): Uint8Array {
    if (this.#view.length === size) return this.#view;
    if (this.#shared.length < size) this.#shared = new Uint8Array(size);
    return this.#view = this.#shared.subarray(0, size);
  }

  /** True for the buffer {@linkcode ReadScratch.shared} returned last. */
  isShared(buf: Uint8Array): boolean {
    return buf === this.#view;
  }

  /** A fresh buffer of `size` bytes to read into and hand over. */
  fresh(size: number): Uint8Array {
    const spare = this.#spare;
    this.#spare = undefined;
    return spare?.length === size ? spare : new Uint8Array(size);
  }

  /** Keeps a fresh buffer that a read found nothing for, for the next read. */
  keep(buf: Uint8Array): void {
    this.#spare = buf;
  }
}

const scratches = new WeakMap<Backend, ReadScratch>();

/** The read buffers of `backend`'s streams, made on first use. */
export function scratchOf(backend: Backend): ReadScratch {
  let scratch = scratches.get(backend);
  if (scratch === undefined) scratches.set(backend, scratch = new ReadScratch());
  return scratch;
}

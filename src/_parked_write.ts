/**
 * A write without options parked until the backend has taken every byte,
 * bound once per stream so a waiting write allocates no closures.
 *
 * @module
 */
import type { StreamHandle } from "./_backend/types.ts";

const EMPTY_BYTES = new Uint8Array(0);

/**
 * A write without options waiting until the backend has taken every byte:
 * its settlers are bound once per connection, on its first such wait.
 */
export class ParkedWrite {
  /** The bytes still to write. */
  bytes: Uint8Array = EMPTY_BYTES;
  #h: StreamHandle;
  #done: () => void;
  #givenUp: () => void;
  #resolve: (() => void) | undefined;
  #reject: ((err: unknown) => void) | undefined;

  /**
   * @param h the stream written to
   * @param done called when the write ends (hands the write lock on)
   * @param givenUp called when a cancelled wait leaves the write part-way
   */
  constructor(h: StreamHandle, done: () => void, givenUp: () => void) {
    this.#h = h;
    this.#done = done;
    this.#givenUp = givenUp;
  }

  /** The start function of the wait (see `park`). */
  start = (resolve: () => void, reject: (err: unknown) => void): () => void => {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#h.write(this.bytes).then(this.#wrote, this.#failed);
    return this.#cancelled;
  };

  #wrote = (n: number): void => {
    const resolve = this.#resolve;
    if (resolve === undefined) return;
    if (n < this.bytes.length) {
      this.#h.write(this.bytes = this.bytes.subarray(n)).then(this.#wrote, this.#failed);
      return;
    }
    this.#end();
    resolve();
  };

  #failed = (err: unknown): void => {
    const reject = this.#reject;
    if (reject === undefined) return;
    this.#end();
    reject(err);
  };

  // Cancelled part-way while the backend write may still run: the peer
  // would see a truncated message, so the stream is closed.
  #cancelled = (): void => {
    this.#end();
    this.#givenUp();
  };

  #end(): void {
    this.bytes = EMPTY_BYTES;
    this.#resolve = this.#reject = undefined;
    this.#done();
  }
}

/**
 * The pings a connection waits on: each resolves with its round-trip time
 * when a pong with its payload arrives (a pong answers the ping it echoes
 * and every older one, RFC 6455 §5.5.3).
 *
 * @module
 */

interface PingWait {
  payload: Uint8Array;
  started: number;
  resolve(ms: number): void;
  reject(err: unknown): void;
}

/** The pending pings of one connection. */
export class PingWaiters {
  #waits: PingWait[] = [];

  /** Waits for a pong to `payload`; returns a function that forgets the wait. */
  add(
    payload: Uint8Array,
    resolve: (ms: number) => void,
    reject: (err: unknown) => void,
  ): () => void {
    const wait: PingWait = {
      payload: payload.slice(),
      started: performance.now(),
      resolve,
      reject,
    };
    this.#waits.push(wait);
    return () => {
      const i = this.#waits.indexOf(wait);
      if (i >= 0) this.#waits.splice(i, 1);
    };
  }

  /** A pong arrived with `payload`. */
  answered(payload: Uint8Array): void {
    const i = this.#waits.findIndex((w) => sameBytes(w.payload, payload));
    if (i < 0) return;
    const now = performance.now();
    for (const w of this.#waits.splice(0, i + 1)) w.resolve(now - w.started);
  }

  /** The connection closed: every wait fails. */
  rejectAll(err: () => unknown): void {
    for (const w of this.#waits.splice(0)) w.reject(err());
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The received messages of one connection that `recv` has not taken yet:
 * a small bounded queue. When it is full the reader waits for room, so a
 * peer cannot make it grow; a parked `recv` takes the next message
 * directly.
 *
 * @module
 */
import { park, type WaitOptions } from "../_wait.ts";

const MAX_MESSAGES = 64, MAX_BYTES = 1 << 20;

interface Waiter {
  resolve(value: string | Uint8Array | null): void;
  reject(err: unknown): void;
}

/** The messages waiting for `recv`, see the module doc. */
export class Inbox {
  // Made on the first queued message, dropped once empty.
  #queue: Array<string | Uint8Array> | undefined;
  #head = 0;
  #bytes = 0;
  #waiter: Waiter | undefined;
  #room: (() => void) | undefined;
  #ended = false;

  /** True once no more messages will be put (those queued stay readable). */
  get ended(): boolean {
    return this.#ended;
  }

  /** True when the reader should wait for room before reading more. */
  get full(): boolean {
    return !this.#ended && (this.#size() >= MAX_MESSAGES || this.#bytes >= MAX_BYTES);
  }

  /** A message arrived: to the parked `recv`, or queued (dropped once ended). */
  put(msg: string | Uint8Array): void {
    if (this.#ended) return;
    const w = this.#waiter;
    if (w) {
      this.#waiter = undefined;
      w.resolve(msg);
      return;
    }
    (this.#queue ??= []).push(msg);
    this.#bytes += msg.length;
  }

  /** `WsConn.recv`: the next message, or `null` once ended and empty. */
  recv(opts: WaitOptions | undefined): Promise<string | Uint8Array | null> {
    if (this.#size() > 0) return Promise.resolve(this.#take());
    if (this.#ended) return Promise.resolve(null);
    if (this.#waiter) return Promise.reject(new Error("websocket recv: another recv is waiting"));
    return park<string | Uint8Array | null>("websocket recv", opts, (resolve, reject) => {
      this.#waiter = { resolve, reject };
      return () => this.#waiter = undefined;
    });
  }

  /** Calls `fn` once a message was taken (or the inbox ended, or {@linkcode Inbox.wake}). */
  onRoom(fn: () => void): void {
    this.#room = fn;
  }

  /** No more messages will come: a parked `recv` gets `null`, the reader wakes. */
  end(): void {
    this.#ended = true;
    if (this.#size() === 0 && this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve(null);
    }
    this.wake();
  }

  /** Wakes a reader waiting in {@linkcode Inbox.onRoom}. */
  wake(): void {
    const room = this.#room;
    this.#room = undefined;
    room?.();
  }

  #size(): number {
    return this.#queue === undefined ? 0 : this.#queue.length - this.#head;
  }

  #take(): string | Uint8Array {
    const queue = this.#queue!;
    const msg = queue[this.#head];
    queue[this.#head++] = undefined!;
    this.#bytes -= msg.length;
    if (this.#head === queue.length) {
      this.#queue = undefined;
      this.#head = 0;
    }
    this.wake();
    return msg;
  }
}

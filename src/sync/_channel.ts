/**
 * {@linkcode Channel}: a bounded or unbuffered queue between tasks.
 *
 * @module
 */
import { ClosedError } from "../errors.ts";
import type { WaitOptions } from "../_wait.ts";
import { WaitQueue } from "./_wait_queue.ts";

/**
 * A channel between tasks. With capacity 0 (the default) it is unbuffered:
 * `send` waits until a receiver takes the value. With capacity n, `send`
 * waits only while n values are buffered.
 *
 * Operations that can complete at once do so without waiting (and so
 * without a cancellation check); only a wait observes cancellation.
 *
 * Closed-channel semantics: after `close()`, `send` throws
 * {@linkcode ClosedError}; values already buffered can still be received;
 * once they are drained `recv` throws `ClosedError` and async iteration
 * ends. Closing wakes every parked sender and (once drained) receiver with
 * `ClosedError`. Closing twice is harmless.
 *
 * @example Ping-pong
 * ```ts
 * import { Channel, spawn } from "@lunet/lunet";
 * const ping = new Channel<number>(), pong = new Channel<number>();
 * spawn(async () => {
 *   for await (const n of ping) await pong.send(n + 1);
 * });
 * await ping.send(1);
 * if (await pong.recv() !== 2) throw new Error("expected 2");
 * ping.close();
 * ```
 *
 * @example Buffered values survive the close
 * ```ts
 * import { Channel, ClosedError } from "@lunet/lunet";
 * const ch = new Channel<number>(2);
 * await ch.send(1);
 * ch.close();
 * if (await ch.recv() !== 1) throw new Error("the buffered value is still there");
 * const err = await ch.recv().then(() => undefined, (e) => e);
 * if (!(err instanceof ClosedError)) throw new Error("drained: closed");
 * ```
 */
export class Channel<T> implements AsyncIterable<T> {
  /** Buffer size given at construction. */
  readonly capacity: number;
  #buffer: T[] = [];
  #receivers = new WaitQueue<T>();
  #senders = new WaitQueue<void>();
  #closed = false;

  /**
   * Creates a channel.
   *
   * @param capacity How many values may wait in the buffer; 0 (the
   * default) makes every send wait for a receiver.
   * @throws {RangeError} when `capacity` is not a non-negative integer.
   */
  constructor(capacity = 0) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`Channel: capacity must be a non-negative integer, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  /** True after {@linkcode Channel.close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Number of values buffered right now. */
  get length(): number {
    return this.#buffer.length;
  }

  /**
   * Sends `value`, waiting for room (or for a receiver when unbuffered).
   *
   * @param value The value to send.
   * @param opts Timeout, deadline and abort signal of the wait.
   * @throws {ClosedError} when the channel is closed, before or during
   * the wait.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  send(value: T, opts?: WaitOptions): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError("channel send"));
    const receiver = this.#receivers.shift();
    if (receiver) {
      receiver.resolve(value);
      return Promise.resolve();
    }
    if (this.#buffer.length < this.capacity) {
      this.#buffer.push(value);
      return Promise.resolve();
    }
    return this.#senders.park("channel send", opts, value);
  }

  /**
   * Receives the next value, waiting until one is sent.
   *
   * @param opts Timeout, deadline and abort signal of the wait.
   * @returns The next value, in the order sent.
   * @throws {ClosedError} once the channel is closed and drained.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  recv(opts?: WaitOptions): Promise<T> {
    if (this.#buffer.length > 0) {
      const value = this.#buffer.shift()!;
      const sender = this.#senders.shift();
      if (sender) {
        this.#buffer.push(sender.extra as T);
        sender.resolve();
      }
      return Promise.resolve(value);
    }
    const sender = this.#senders.shift();
    if (sender) {
      sender.resolve();
      return Promise.resolve(sender.extra as T);
    }
    if (this.#closed) return Promise.reject(new ClosedError("channel recv"));
    return this.#receivers.park("channel recv", opts);
  }

  /** Closes the channel; see the class notes for what happens to waiters. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#senders.rejectAll(() => new ClosedError("channel send"));
    this.#receivers.rejectAll(() => new ClosedError("channel recv"));
  }

  /** Yields received values until the channel is closed and drained. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      try {
        yield await this.recv();
      } catch (err) {
        if (err instanceof ClosedError && this.#closed && this.#buffer.length === 0) return;
        throw err;
      }
    }
  }
}

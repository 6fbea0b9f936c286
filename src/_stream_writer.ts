/**
 * The write side of a stream core: one write lock, with the synchronous
 * fast path, parked writes (no options), budgeted writes (with options),
 * queued writers served in turn, and half-close. A write given up
 * part-way closes the stream, since the peer would otherwise see a
 * truncated message followed by the next one.
 *
 * @module
 */
import { ClosedError } from "./errors.ts";
import { abandon, budget, isEarlyWake, park, race, type WaitOptions } from "./_wait.ts";
import { ParkedWrite } from "./_parked_write.ts";
import type { StreamHandle } from "./_backend/types.ts";

const encoder = new TextEncoder();
const DONE: Promise<void> = Promise.resolve();

/** What the writer needs of the stream it writes to. */
export interface WriterOwner {
  /** How messages name the stream. */
  readonly label: string;
  /** True once the stream is closed. */
  readonly closed: boolean;
  /** Fails a call that would wait when the task, signal or deadline already says so. */
  checkWait(op: string, opts: WaitOptions | undefined): void;
  /** Closes the stream. */
  close(): void;
}

interface WriteWaiter {
  resolve(): void;
  reject(err: unknown): void;
}

/** The write lock and write paths of one stream. */
export class StreamWriter {
  #h: StreamHandle;
  #owner: WriterOwner;
  #writing = false;
  #writers: WriteWaiter[] | undefined;
  // A write without options waiting for the backend; made on the first
  // such wait, so a connection that never waits to write holds none.
  #parkedWrite: ParkedWrite | undefined;
  #shut = false;

  /**
   * @param h the stream written to
   * @param owner the core the stream belongs to
   */
  constructor(h: StreamHandle, owner: WriterOwner) {
    this.#h = h;
    this.#owner = owner;
  }

  /** True while a write or shutdown holds the lock. */
  get busy(): boolean {
    return this.#writing;
  }

  get #writeWhat(): string {
    return `write ${this.#owner.label}`;
  }

  /** `Conn.write`: resolves once the backend has taken every byte. */
  write(data: string | Uint8Array, opts?: WaitOptions): Promise<void> {
    return this.#write(typeof data === "string" ? encoder.encode(data) : data, opts) ?? DONE;
  }

  /**
   * `write` without options, returning `undefined` when every byte was
   * taken at once (nothing to wait for). The write is not given up when
   * the calling task is cancelled: close the stream to end it.
   */
  writeNow(bytes: Uint8Array): Promise<void> | undefined {
    if (this.#h.tryWrite || this.#writing || this.#owner.closed || this.#shut) {
      return this.#write(bytes, undefined);
    }
    // A backend that only writes asynchronously (deno): straight through,
    // without a parked wait; the caller ends a stalled write by closing.
    this.#writing = true;
    return this.#writeThrough(bytes);
  }

  async #writeThrough(bytes: Uint8Array): Promise<void> {
    try {
      let off = await this.#h.write(bytes);
      while (off < bytes.length) off += await this.#h.write(bytes.subarray(off));
    } finally {
      this.#release();
    }
  }

  #write(bytes: Uint8Array, opts: WaitOptions | undefined): Promise<void> | undefined {
    const owner = this.#owner;
    if (owner.closed) return Promise.reject(new ClosedError(this.#writeWhat));
    if (this.#shut) return Promise.reject(new ClosedError(`write ${owner.label} after shutdown`));
    // Waiting for the turn and every partial write share one budget.
    if (opts?.timeout !== undefined) opts = budget(opts);
    if (this.#writing) return this.#writeQueued(bytes, opts);
    const h = this.#h;
    let sent = 0;
    try {
      owner.checkWait("write", opts);
      // The common small write: one synchronous syscall, nothing to wait for.
      if (h.tryWrite && (sent = h.tryWrite(bytes)) === bytes.length) return undefined;
    } catch (err) {
      return Promise.reject(err);
    }
    this.#writing = true;
    const rest = sent === 0 ? bytes : bytes.subarray(sent);
    if (opts !== undefined) return this.#writeAll(rest, opts);
    const parked = this.#parkedWrite ??= new ParkedWrite(
      h,
      () => this.#release(),
      () => owner.close(),
    );
    parked.bytes = rest;
    return park(this.#writeWhat, undefined, parked.start);
  }

  async #writeQueued(bytes: Uint8Array, opts: WaitOptions | undefined): Promise<void> {
    await this.#waitTurn(this.#writeWhat, opts);
    if (this.#shut) {
      this.#release();
      throw new ClosedError(`write ${this.#owner.label} after shutdown`);
    }
    return this.#writeAll(bytes, opts);
  }

  // Waits until the write lock is handed over to this caller.
  #waitTurn(what: string, opts: WaitOptions | undefined): Promise<void> {
    return park<void>(what, opts, (resolve, reject) => {
      const waiter = { resolve, reject };
      (this.#writers ??= []).push(waiter);
      return () => {
        const i = this.#writers!.indexOf(waiter);
        if (i >= 0) this.#writers!.splice(i, 1);
      };
    });
  }

  #release(): void {
    const next = this.#writers?.shift();
    if (next) next.resolve();
    else this.#writing = false;
  }

  async #writeAll(bytes: Uint8Array, opts: WaitOptions | undefined): Promise<void> {
    try {
      let off = 0;
      while (off < bytes.length) {
        const pending = this.#h.write(off === 0 ? bytes : bytes.subarray(off));
        try {
          off += await race(this.#writeWhat, pending, opts);
        } catch (err) {
          abandon(pending);
          // Given up part-way while the backend write may still run: the
          // peer would see a truncated message, so the stream is closed.
          if (isEarlyWake(err)) this.#owner.close();
          throw err;
        }
      }
    } finally {
      this.#release();
    }
  }

  /** `Conn.shutdown`: waits for queued writes, then sends end-of-stream. */
  async shutdown(opts?: WaitOptions): Promise<void> {
    const what = `shutdown ${this.#owner.label}`;
    if (this.#owner.closed) throw new ClosedError(what);
    if (this.#shut) return;
    opts = budget(opts);
    if (this.#writing) await this.#waitTurn(what, opts);
    else this.#writing = true;
    try {
      if (this.#shut) return;
      this.#shut = true;
      await race(what, this.#h.closeWrite(), opts);
    } finally {
      this.#release();
    }
  }

  /** Wakes the queued writers with `ClosedError`: the stream was closed. */
  closed(): void {
    const writers = this.#writers;
    this.#writers = undefined;
    if (writers) { for (const w of writers) w.reject(new ClosedError(this.#writeWhat)); }
  }
}

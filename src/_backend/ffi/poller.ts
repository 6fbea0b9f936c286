/**
 * The epoll loop of the FFI backend: one edge-triggered epoll instance per
 * thread, created when the first socket registers and closed with its
 * wake-up eventfd when the last one goes.
 *
 * While operations wait, the loop polls with a synchronous
 * `epoll_wait(timeout 0)` once per macrotask (`setImmediate`), so timers,
 * promise continuations and Deno-native I/O run between polls. It never
 * waits synchronously: a wait inside the thread would hold back Deno's own
 * I/O (a database client on `Deno.Conn`, say). After a few empty polls it
 * parks in a `nonblocking` `epoll_wait` on Deno's blocking
 * thread pool until an event comes; the eventfd wakes that call when the
 * last waiting operation is gone, so an idle backend keeps no op in flight
 * and does not hold the process open. Until the first event, the loop
 * parks at once: `setImmediate` comes from `node:timers`, whose load
 * brings Node compatibility (≈ 3.5 MiB), so an idle server never loads it.
 *
 * Events carry a registration id, never the fd, so an event reported for a
 * socket closed in the meantime (its fd maybe reused) is dropped.
 *
 * @module
 */
import { traceClose, traceOpen } from "../../trace.ts";
import { check, errno } from "./errno.ts";
import {
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EINTR,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_DATA_OFFSET,
  EPOLL_EVENT_SIZE,
  EPOLLIN,
  libc,
} from "./libc.ts";

/** Something registered with the poller: it receives the event bits. */
export interface PollTarget {
  /** Called with the `epoll_event.events` bits reported for the target. */
  onEvents(events: number): void;
}

const MAX_EVENTS = 256;
// Empty synchronous polls in a row before parking on the thread pool.
const EMPTY_POLLS_BEFORE_PARKING = 2;
const WAKE_ID = 0;

/**
 * One thread's epoll instance and its loop. Use {@linkcode poller}.
 */
export class Poller {
  #ep = -1;
  #wakeFd = -1;
  #epTrace = 0;
  #wakeTrace = 0;
  #targets = new Map<number, PollTarget>();
  #nextId = 1;
  #waiting = 0;
  #inFlight = false;
  #scheduled = false;
  #emptyPolls = 0;
  #events = new Uint8Array(MAX_EVENTS * EPOLL_EVENT_SIZE);
  #view = new DataView(this.#events.buffer);
  #ctl = new Uint8Array(16);
  #ctlView = new DataView(this.#ctl.buffer);
  // eventfd counter I/O: the value 1 (little-endian u64), and room to read it back.
  #one = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);
  #drain = new Uint8Array(8);
  #immediate: ((fn: () => void) => unknown) | undefined;

  /**
   * Registers `fd` for the given event bits (edge-triggered callers add
   * `EPOLLET`); returns the registration id for {@linkcode Poller.remove}.
   */
  add(fd: number, events: number, target: PollTarget): number {
    if (this.#ep < 0) this.#open();
    const id = this.#nextId++;
    this.#control(EPOLL_CTL_ADD, fd, events, id);
    this.#targets.set(id, target);
    return id;
  }

  /** Unregisters `fd` (call before closing it). */
  remove(id: number, fd: number): void {
    this.#control(EPOLL_CTL_DEL, fd, 0, 0);
    this.#targets.delete(id);
    if (this.#targets.size === 0 && !this.#inFlight) this.#close();
  }

  /** Counts one more operation waiting for readiness; starts the loop. */
  park(): void {
    this.#waiting++;
    if (!this.#inFlight && !this.#scheduled) this.#poll();
  }

  /** Counts one waiting operation less; wakes a parked poll when none is left. */
  unpark(): void {
    if (--this.#waiting === 0 && this.#inFlight) {
      libc().write(this.#wakeFd, this.#one, 8n);
    }
  }

  #open(): void {
    const c = libc();
    this.#ep = check(c.epoll_create1(EPOLL_CLOEXEC), "epoll_create1", "");
    this.#epTrace = traceOpen("fd", "epoll");
    try {
      this.#wakeFd = check(c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd", "");
    } catch (err) {
      this.#close();
      throw err;
    }
    this.#wakeTrace = traceOpen("fd", "eventfd");
    this.#control(EPOLL_CTL_ADD, this.#wakeFd, EPOLLIN, WAKE_ID);
  }

  #close(): void {
    const c = libc();
    if (this.#wakeFd >= 0) {
      c.close(this.#wakeFd);
      traceClose("fd", this.#wakeTrace);
      this.#wakeFd = -1;
    }
    c.close(this.#ep);
    traceClose("fd", this.#epTrace);
    this.#ep = -1;
  }

  #control(op: number, fd: number, events: number, id: number): void {
    this.#ctlView.setUint32(0, events, true);
    this.#ctlView.setUint32(EPOLL_DATA_OFFSET, id % 0x100000000, true);
    this.#ctlView.setUint32(EPOLL_DATA_OFFSET + 4, Math.floor(id / 0x100000000), true);
    check(libc().epoll_ctl(this.#ep, op, fd, this.#ctl), "epoll_ctl", String(fd));
  }

  // Polls on the next macrotask, or parks while setImmediate is not loaded.
  #poll(): void {
    if (this.#immediate) this.#schedule();
    else this.#parkOnThread();
  }

  #schedule(): void {
    this.#scheduled = true;
    this.#immediate!(this.#tick);
  }

  #tick = (): void => {
    this.#scheduled = false;
    if (this.#ep < 0 || this.#waiting === 0) return;
    const n = libc().epoll_wait(this.#ep, this.#events, MAX_EVENTS, 0);
    if (n > 0) {
      this.#emptyPolls = 0;
      this.#dispatch(n);
    } else {
      if (n < 0 && errno() !== EINTR) check(n, "epoll_wait", "");
      this.#emptyPolls++;
    }
    // Callbacks of the dispatch may have scheduled the next poll already.
    if (this.#waiting === 0 || this.#scheduled) return;
    if (this.#emptyPolls < EMPTY_POLLS_BEFORE_PARKING) this.#schedule();
    else this.#parkOnThread();
  };

  async #parkOnThread(): Promise<void> {
    this.#inFlight = true;
    this.#emptyPolls = 0;
    const n = await libc().epoll_wait_blocking(this.#ep, this.#events, MAX_EVENTS, -1);
    if (this.#immediate === undefined && this.#forTargets(n)) {
      this.#immediate = (await import("node:timers")).setImmediate;
    }
    this.#inFlight = false;
    // A failure here can only be EINTR (the fd and buffer stay valid while
    // the call runs), and errno belongs to the pool thread: just poll again.
    if (n > 0) this.#dispatch(n);
    // The dispatch may have removed the last target, and closed the instance.
    if (this.#targets.size === 0) {
      if (this.#ep >= 0) this.#close();
    } else if (this.#waiting > 0 && !this.#scheduled && !this.#inFlight) this.#poll();
  }

  // Whether the first `n` events hold one for a target (not only the wake-up).
  #forTargets(n: number): boolean {
    for (let off = EPOLL_DATA_OFFSET; n > 0; n--, off += EPOLL_EVENT_SIZE) {
      if (
        this.#view.getUint32(off, true) !== WAKE_ID || this.#view.getUint32(off + 4, true) !== 0
      ) {
        return true;
      }
    }
    return false;
  }

  #dispatch(n: number): void {
    const view = this.#view;
    for (let i = 0, off = 0; i < n; i++, off += EPOLL_EVENT_SIZE) {
      const events = view.getUint32(off, true);
      const id = view.getUint32(off + EPOLL_DATA_OFFSET, true) +
        view.getUint32(off + EPOLL_DATA_OFFSET + 4, true) * 0x100000000;
      if (id === WAKE_ID) {
        libc().read(this.#wakeFd, this.#drain, 8n);
        continue;
      }
      this.#targets.get(id)?.onEvents(events);
    }
  }
}

let instance: Poller | undefined;

/**
 * This thread's poller.
 *
 * @example
 * ```ts ignore
 * const id = poller().add(fd, EPOLLIN | EPOLLET, target);
 * ```
 */
export function poller(): Poller {
  return instance ??= new Poller();
}

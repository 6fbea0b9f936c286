/**
 * One timer for the ping and idle deadlines of every WebSocket connection
 * of a worker, instead of a timer per connection: deadlines are kept in
 * slots of {@linkcode RESOLUTION} ms, and the timer is armed for the
 * earliest slot while any deadline is set. A deadline never rings early
 * and at most one slot late. With no deadline set, no timer is left.
 *
 * @module
 */

/** The width of a slot in ms. */
export const RESOLUTION = 10;

/** The deadlines of one worker. */
export class Clock {
  // The slot of each set alarm, and the alarms of each slot.
  #slotOf = new Map<() => void, number>();
  #slots = new Map<number, Set<() => void>>();
  // Slot numbers, a min-heap (slots left empty are skipped when reached).
  #heap: number[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armed = Infinity;

  /** Calls `ring` once at (or just after) the epoch-ms time `due`, replacing its earlier deadline. */
  set(ring: () => void, due: number): void {
    const slot = Math.ceil(due / RESOLUTION);
    const old = this.#slotOf.get(ring);
    if (old === slot) return;
    if (old !== undefined) {
      const was = this.#slots.get(old);
      was?.delete(ring);
      if (was?.size === 0) this.#slots.delete(old);
    }
    this.#slotOf.set(ring, slot);
    let set = this.#slots.get(slot);
    if (set === undefined) {
      this.#slots.set(slot, set = new Set());
      push(this.#heap, slot);
    }
    set.add(ring);
    if (slot < this.#armed) this.#arm();
  }

  /** Forgets the deadline of `ring`, if any. */
  clear(ring: () => void): void {
    const slot = this.#slotOf.get(ring);
    if (slot === undefined) return;
    this.#slotOf.delete(ring);
    const set = this.#slots.get(slot);
    set?.delete(ring);
    if (set?.size === 0) this.#slots.delete(slot);
    if (this.#slotOf.size === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#armed = Infinity;
      this.#heap.length = 0;
      this.#slots.clear();
    }
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armed = Infinity;
    const heap = this.#heap;
    while (heap.length > 0 && !this.#slots.has(heap[0])) pop(heap);
    if (heap.length === 0) return;
    const slot = this.#armed = heap[0];
    this.#timer = setTimeout(this.#ring, Math.max(0, slot * RESOLUTION - Date.now()));
  }

  #ring = (): void => {
    this.#timer = undefined;
    this.#armed = Infinity;
    const now = Date.now(), heap = this.#heap;
    while (heap.length > 0 && heap[0] * RESOLUTION <= now) {
      const slot = pop(heap);
      const set = this.#slots.get(slot);
      if (set === undefined) continue;
      this.#slots.delete(slot);
      for (const ring of set) {
        this.#slotOf.delete(ring);
        ring();
      }
    }
    if (this.#timer === undefined && this.#slotOf.size > 0) this.#arm();
  };
}

function push(heap: number[], v: number): void {
  let i = heap.length;
  heap.push(v);
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (heap[p] <= v) break;
    heap[i] = heap[p];
    i = p;
  }
  heap[i] = v;
}

function pop(heap: number[]): number {
  const top = heap[0], last = heap.pop()!;
  const n = heap.length;
  if (n > 0) {
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && heap[c + 1] < heap[c]) c++;
      if (heap[c] >= last) break;
      heap[i] = heap[c];
      i = c;
    }
    heap[i] = last;
  }
  return top;
}

/** The deadlines of this worker's connections. */
export const clock: Clock = new Clock();

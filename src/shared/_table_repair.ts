/**
 * The table's derived structures, rebuilt from its slots: the index, the
 * free list and the count. A writer that died mid-write left them (and
 * the slot it was filling) in any state; {@linkcode repair} drops the
 * half-written slots and rebuilds the rest. Also {@linkcode check}, the
 * invariants the tests hold the table to.
 *
 * All of these run under the table's lock.
 *
 * @module
 */
import {
  EMPTY,
  FREE,
  H_COUNT,
  H_FREE,
  H_INDEX_SEQ,
  H_LOCK,
  H_TOMBS,
  LIVE,
  S_HASH,
  S_NEXT,
  S_STATE,
  S_VER,
  SLOT_INTS,
  type Views,
} from "./_layout.ts";

/** Rebuilds the index from the live slots (readers retry meanwhile). */
export function reindex(v: Views): void {
  const { h, index, meta, mask } = v;
  Atomics.add(h, H_INDEX_SEQ, 1);
  index.fill(EMPTY);
  for (let s = 0; s < v.capacity; s++) {
    const m = s * SLOT_INTS;
    if (meta[m + S_STATE] !== LIVE) continue;
    let p = meta[m + S_HASH] & mask;
    while (index[p] !== EMPTY) p = (p + 1) & mask;
    index[p] = s + 1;
  }
  h[H_TOMBS] = 0;
  Atomics.add(h, H_INDEX_SEQ, 1);
}

/** Rebuilds the free list, the count and the index from the slots. */
export function rebuild(v: Views): void {
  const { h, meta } = v;
  let free = 0, count = 0;
  for (let s = v.capacity - 1; s >= 0; s--) {
    const m = s * SLOT_INTS;
    if (meta[m + S_STATE] === LIVE) count++;
    else {
      meta[m + S_NEXT] = free;
      free = s + 1;
    }
  }
  h[H_FREE] = free;
  h[H_COUNT] = count;
  reindex(v);
}

/** Drops the slots a dead writer left odd, then rebuilds. */
export function repair(v: Views): void {
  const { h, meta } = v;
  for (let s = 0; s < v.capacity; s++) {
    const m = s * SLOT_INTS;
    if ((meta[m + S_VER] & 1) === 0) continue;
    meta[m + S_STATE] = FREE;
    Atomics.add(meta, m + S_VER, 1);
  }
  if (h[H_INDEX_SEQ] & 1) Atomics.add(h, H_INDEX_SEQ, 1);
  rebuild(v);
}

/** What is wrong with the table (empty when sound). */
export function check(v: Views): string[] {
  const { h, index, meta, mask } = v;
  const problems: string[] = [];
  let live = 0;
  const indexed = new Set<number>();
  for (let p = 0; p <= mask; p++) {
    const e = index[p];
    if (e <= 0) continue;
    if (indexed.has(e - 1)) problems.push(`slot ${e - 1} indexed twice`);
    indexed.add(e - 1);
  }
  for (let s = 0; s < v.capacity; s++) {
    const m = s * SLOT_INTS;
    if (meta[m + S_VER] & 1) problems.push(`slot ${s} left mid-write`);
    if (meta[m + S_STATE] === LIVE) {
      live++;
      if (!indexed.has(s)) problems.push(`live slot ${s} not indexed`);
    } else if (indexed.has(s)) problems.push(`free slot ${s} indexed`);
  }
  if (live !== h[H_COUNT]) problems.push(`count ${h[H_COUNT]} but ${live} live`);
  if (h[H_LOCK] !== 0) problems.push(`locked by ${h[H_LOCK]}`);
  return problems;
}

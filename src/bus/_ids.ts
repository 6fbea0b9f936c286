/**
 * Replay-log entry ids, `<ms>-<seq>` as Redis Streams make them (the
 * in-process bus makes them the same way), and their order.
 *
 * @module
 */

/**
 * The two numbers of an id; a bare number is a millisecond time before
 * every entry of it.
 *
 * @example
 * ```ts
 * import { parseId } from "./_ids.ts";
 * if (parseId("1700000000000-3")[1] !== 3) throw new Error("seq");
 * ```
 */
export function parseId(id: string): [number, number] {
  const dash = id.indexOf("-");
  if (dash < 0) return [Number(id) || 0, -1];
  return [Number(id.slice(0, dash)) || 0, Number(id.slice(dash + 1)) || 0];
}

/**
 * Orders two ids: negative when `a` comes first, 0 when equal.
 *
 * @example
 * ```ts
 * import { compareIds } from "./_ids.ts";
 * if (compareIds("5-1", "5-10") >= 0 || compareIds("6-0", "5-9") <= 0) throw new Error("order");
 * ```
 */
export function compareIds(a: string, b: string): number {
  const [am, as] = parseId(a);
  const [bm, bs] = parseId(b);
  return am - bm || as - bs;
}

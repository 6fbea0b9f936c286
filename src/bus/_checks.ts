/**
 * The argument checks every bus runs before it sends anything: topics and
 * streams are non-empty strings, data and ids strings.
 *
 * @module
 */
import { shown } from "../_shown.ts";

/**
 * A TypeError when `name` (a topic or a stream) is not a non-empty string.
 *
 * @example
 * ```ts ignore
 * const bad = badName("publish", "topic", topic);
 * if (bad) return Promise.reject(bad);
 * ```
 */
export function badName(
  op: string,
  kind: "topic" | "stream",
  name: unknown,
): TypeError | undefined {
  if (typeof name === "string" && name !== "") return undefined;
  return new TypeError(`bus ${op}: ${kind} must be a non-empty string, got ${shown(name)}`);
}

/**
 * A TypeError when `value` (a message's data, or an entry id) is not a string.
 *
 * @example
 * ```ts ignore
 * const bad = badText("append", "log", "data", data);
 * if (bad) return Promise.reject(bad);
 * ```
 */
export function badText(
  op: string,
  name: string,
  kind: "data" | "id",
  value: unknown,
): TypeError | undefined {
  if (typeof value === "string") return undefined;
  // Data is named by its type, never repeated.
  const got = kind === "id" ? shown(value) : value === null ? "null" : typeof value;
  return new TypeError(`bus ${op} ${name}: ${kind} must be a string, got ${got}`);
}

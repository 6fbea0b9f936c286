/**
 * How an argument that was refused is shown in its error message: a string
 * quoted (so `""` and `" 8080"` are visible), anything else as `String()`
 * gives it. Not an entry point.
 *
 * @module
 */

/**
 * `value` as an error message shows it.
 *
 * @example
 * ```ts
 * import { shown } from "./_shown.ts";
 * if (shown("") !== '""' || shown(null) !== "null" || shown(-1) !== "-1") throw new Error("shown");
 * ```
 */
export function shown(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

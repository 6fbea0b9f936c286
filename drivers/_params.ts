/**
 * Placeholder counting and parameter checks of each SQL dialect, and
 * the conversions of driver values every driver shares.
 *
 * @module
 */
import { DbError } from "../src/errors.ts";
import type { Dialect } from "./_types.ts";

/**
 * Reads an integer from its decimal text: a number when exact, else a bigint.
 *
 * @example
 * ```ts ignore
 * parseInteger("42"); // 42
 * parseInteger("9223372036854775807"); // 9223372036854775807n
 * ```
 */
export function parseInteger(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

/**
 * A plain `Uint8Array` view of a Node `Buffer` (or any byte view).
 *
 * @example
 * ```ts ignore
 * const bytes = toBytes(Buffer.from([0, 1])); // a plain Uint8Array
 * ```
 */
export function toBytes(view: Uint8Array): Uint8Array {
  return view.constructor === Uint8Array
    ? view
    : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * Counts the placeholders `sql` expects (skipping string literals, quoted
 * identifiers and comments) and throws {@linkcode DbError} with driver code
 * `PARAM_COUNT` when `params` has another length (naming the dialect's
 * placeholder style when the statement uses another one),
 * `PARAM_UNDEFINED` for an `undefined` parameter, and `PARAM_INVALID` for
 * a value no driver stores faithfully (NaN, an invalid `Date`, a symbol, a
 * function).
 * `expected`, when the caller knows it, saves counting again.
 *
 * @example
 * ```ts ignore
 * checkParams("mysql", "SELECT ? + ?", [1, 2]); // ok
 * checkParams("mysql", "SELECT ?", []); // throws DbError PARAM_COUNT
 * checkParams("mysql", "SELECT ?", [NaN]); // throws DbError PARAM_INVALID
 * ```
 */
export function checkParams(
  dialect: Dialect,
  sql: string,
  params: unknown[],
  expected: number = countPlaceholders(dialect, sql),
): void {
  if (params.length !== expected) {
    throw new DbError(
      `${dialect}: statement expects ${expected} parameter(s), got ${params.length}${
        styleHint(dialect, sql, expected, params.length)
      }: ${sql.length > 80 ? sql.slice(0, 77) + "..." : sql}`,
      { driverCode: "PARAM_COUNT" },
    );
  }
  for (let i = 0; i < params.length; i++) {
    const v = params[i];
    if (v === undefined) {
      throw new DbError(`${dialect}: parameter ${i + 1} is undefined (use null for NULL)`, {
        driverCode: "PARAM_UNDEFINED",
      });
    }
    const invalid = typeof v === "number"
      ? v !== v && "NaN"
      : typeof v === "symbol" || typeof v === "function"
      ? `a ${typeof v}`
      : v instanceof Date && Number.isNaN(v.getTime()) && "an invalid Date";
    if (invalid) {
      throw new DbError(`${dialect}: parameter ${i + 1} is ${invalid}, which cannot be stored`, {
        driverCode: "PARAM_INVALID",
      });
    }
  }
}

/**
 * When `sql` uses the other placeholder style (`?` on PostgreSQL, `$n`
 * elsewhere), a note saying which style `dialect` uses; else "".
 */
function styleHint(dialect: Dialect, sql: string, expected: number, got: number): string {
  const postgres = dialect === "postgres";
  const foreign = countPlaceholders(postgres ? "mysql" : "postgres", sql);
  if (!foreign) return "";
  const [style, native, other] = postgres
    ? ["$1, $2 … placeholders", "`$n`", "`?`"]
    : ["? placeholders", "`?`", "`$n`"];
  return ` (${dialect} uses ${style}; got ${got} parameter(s) for a statement with ${expected} ${native} placeholders but ${foreign} ${other})`;
}

/**
 * The number of parameters `sql` binds in `dialect`.
 *
 * @example
 * ```ts ignore
 * countPlaceholders("postgres", "SELECT $2, $1, '$3'"); // 2
 * ```
 */
export function countPlaceholders(dialect: Dialect, sql: string): number {
  let count = 0;
  const n = sql.length;
  for (let i = 0; i < n; i++) {
    const ch = sql[i];
    if (ch === "'" || ch === '"' || ch === "`" || (ch === "[" && dialect === "sqlite")) {
      const close = ch === "[" ? "]" : ch;
      for (i++; i < n && sql[i] !== close; i++) {
        if (sql[i] === "\\" && dialect === "mysql") i++;
      }
    } else if ((ch === "-" && sql[i + 1] === "-") || (ch === "#" && dialect === "mysql")) {
      while (i < n && sql[i] !== "\n") i++;
    } else if (ch === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? n : end + 1;
    } else if (dialect === "postgres" && ch === "$") {
      const m = /^\$(\d+)|^\$([A-Za-z_]\w*)?\$/.exec(sql.slice(i, i + 64));
      if (m?.[1]) {
        count = Math.max(count, Number(m[1]));
        i += m[0].length - 1;
      } else if (m) {
        const end = sql.indexOf(m[0], i + m[0].length);
        i = end < 0 ? n : end + m[0].length - 1;
      }
    } else if (ch === "?" && dialect !== "postgres") {
      const m = dialect === "sqlite" ? /^\?(\d+)/.exec(sql.slice(i, i + 12)) : null;
      count = m ? Math.max(count, Number(m[1])) : count + 1;
    } else if (
      dialect === "sqlite" && (ch === ":" || ch === "@" || ch === "$") &&
      /[A-Za-z_]/.test(sql[i + 1] ?? "") && !/\w/.test(sql[i - 1] ?? "")
    ) {
      throw new DbError(`sqlite: named parameter ${ch}${sql[i + 1]}… is not supported; use ?`, {
        driverCode: "PARAM_NAMED",
      });
    }
  }
  return count;
}

/**
 * How the PostgreSQL driver reads and binds values in the protocol's text
 * format: exact integers, binary-safe `bytea`, TimeZone-independent
 * timestamps, `date` as text, JSON, and arrays whose NULL elements are
 * `null`.
 *
 * @module
 */
import { DbError } from "../src/errors.ts";
import { parseInteger } from "./_params.ts";

// Dates: `timestamp` (without time zone) holds UTC wall-clock time and
// `timestamptz` an instant. Both are read from their text without the
// session's TimeZone (offsets with seconds included), and a bound Date is
// sent as ISO 8601 UTC text typed by the server from its context, so a
// `timestamp` takes its UTC wall clock. Every connection also starts with
// TimeZone UTC, so casts in SQL (`now()::timestamp`) agree.
const STAMP =
  /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?( BC)?$/;

/** Reads `timestamp` / `timestamptz` text (ISO DateStyle); `infinity` is an invalid Date. */
function parseStamp(text: string): Date {
  const m = STAMP.exec(text);
  if (!m) return new Date(NaN);
  const d = new Date(0);
  d.setUTCFullYear(m[12] ? 1 - Number(m[1]) : Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
    m[7] ? Number(m[7].slice(0, 3).padEnd(3, "0")) : 0,
  );
  if (m[8]) {
    const offset = Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0);
    d.setTime(d.getTime() - (m[8] === "-" ? -offset : offset) * 1000);
  }
  return d;
}

/**
 * Reads an array's text (`{1,NULL,"a,b"}`, nested, with optional bounds
 * `[0:1]=`): unquoted NULL is `null`, a quoted "NULL" the string.
 */
function parseArray(
  text: string,
  element: ((x: string) => unknown) | undefined,
  delimiter: string,
): unknown[] {
  let i = text.charCodeAt(0) === 0x5b ? text.indexOf("=") + 1 : 0;
  const list = (): unknown[] => {
    const out: unknown[] = [];
    i++;
    if (text[i] === "}") {
      i++;
      return out;
    }
    for (;;) {
      if (text[i] === "{") {
        out.push(list());
      } else if (text[i] === '"') {
        let s = "";
        let start = ++i;
        for (; text[i] !== '"'; i++) {
          if (text[i] === "\\") {
            s += text.slice(start, i);
            start = ++i;
          }
        }
        s += text.slice(start, i++);
        out.push(element ? element(s) : s);
      } else {
        const start = i;
        while (text[i] !== delimiter && text[i] !== "}") i++;
        const s = text.slice(start, i);
        out.push(s === "NULL" ? null : element ? element(s) : s);
      }
      if (text[i++] !== delimiter) return out;
    }
  };
  return list();
}

/** Reads one value from its text. */
export type Parser = (text: string) => unknown;

const HEX = "0123456789abcdef";

/** `bytea` in its hex text form (`\x00ff`). */
function parseBytea(text: string): Uint8Array {
  const out = new Uint8Array((text.length - 2) >> 1);
  for (let i = 0, j = 2; i < out.length; i++, j += 2) {
    out[i] = (hexDigit(text.charCodeAt(j)) << 4) | hexDigit(text.charCodeAt(j + 1));
  }
  return out;
}

function hexDigit(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57;
}

/** `bytes` as `bytea` hex text. */
function byteaText(bytes: Uint8Array): string {
  let s = "\\x";
  for (const b of bytes) s += HEX[b >> 4] + HEX[b & 15];
  return s;
}

/**
 * The parsers of the built-in types lunet reads as something other than a
 * string; `numeric`, `date` and every other type stay text.
 */
const SCALARS: ReadonlyMap<number, Parser> = new Map<number, Parser>([
  [16, (x) => x === "t"],
  [17, parseBytea],
  [20, parseInteger],
  [21, Number],
  [23, Number],
  [26, Number],
  [700, Number],
  [701, Number],
  [114, JSON.parse],
  [3802, JSON.parse],
  [1114, parseStamp],
  [1184, parseStamp],
]);

/** The catalog query {@linkcode PgTypes} is built from: every array type, its element and delimiter. */
export const ARRAY_TYPES_SQL =
  "SELECT typarray, oid, typdelim FROM pg_catalog.pg_type WHERE typarray <> 0";

/**
 * What one database's types read as: the scalar parsers and, from its
 * catalog, each array type's element type and delimiter.
 *
 * @example
 * ```ts ignore
 * const types = new PgTypes([[1007, 23, ","]]);
 * types.parser(1007)?.("{1,NULL}"); // [1, null]
 * ```
 */
export class PgTypes {
  readonly #arrays = new Map<number, { element: number; delimiter: string }>();
  readonly #parsers = new Map<number, Parser | undefined>();

  /** `rows` are the rows of {@linkcode ARRAY_TYPES_SQL}: array type, element type, delimiter. */
  constructor(rows: Iterable<readonly [number, number, string]>) {
    for (const [array, element, delimiter] of rows) this.#arrays.set(array, { element, delimiter });
  }

  /** How a column of type `oid` is read; `undefined`: as the text itself. */
  parser(oid: number): Parser | undefined {
    if (this.#parsers.has(oid)) return this.#parsers.get(oid);
    let parser = SCALARS.get(oid);
    const array = this.#arrays.get(oid);
    if (array) {
      const element = this.parser(array.element);
      parser = (x) => parseArray(x, element, array.delimiter);
    }
    this.#parsers.set(oid, parser);
    return parser;
  }

  /**
   * `value` as sent for a parameter of type `oid`: text, bytes (binary
   * `bytea`), or `null` for NULL. A string bound to `json`/`jsonb` is JSON
   * text, anything else there is serialized once; an array bound to an
   * array type is an array literal.
   */
  encode(value: unknown, oid: number): string | Uint8Array | null {
    if (value === null || value === undefined) return null;
    if (oid === 114 || oid === 3802) {
      return typeof value === "string" ? value : JSON.stringify(value);
    }
    if (value instanceof Uint8Array) return oid === 17 ? value : byteaText(value);
    if (Array.isArray(value)) {
      const array = this.#arrays.get(oid);
      return arrayLiteral(value, array?.delimiter ?? ",", array?.element ?? 0);
    }
    return scalarText(value);
  }
}

/** A scalar as text: booleans as `t`/`f`, objects as JSON. */
function scalarText(value: unknown): string {
  switch (typeof value) {
    case "string":
      return value;
    case "boolean":
      return value ? "t" : "f";
    case "object":
      return JSON.stringify(value);
    default:
      return String(value);
  }
}

/** An array literal (`{1,NULL,"a b"}`), nested for nested arrays; elements of JSON types are JSON text. */
function arrayLiteral(list: unknown[], delimiter: string, element: number): string {
  let s = "{";
  for (let i = 0; i < list.length; i++) {
    if (i > 0) s += delimiter;
    const x = list[i];
    if (x === null || x === undefined) s += "NULL";
    else if (Array.isArray(x)) s += arrayLiteral(x, delimiter, element);
    else {
      const text = element === 114 || element === 3802
        ? (typeof x === "string" ? x : JSON.stringify(x))
        : x instanceof Uint8Array
        ? byteaText(x)
        : scalarText(x);
      s += '"' + text.replace(/[\\"]/g, "\\$&") + '"';
    }
  }
  return s + "}";
}

/**
 * The type a parameter is declared with when its statement is prepared:
 * booleans, bigints and bytes say theirs, anything else is left to the
 * server to infer from the statement (0).
 *
 * @example
 * ```ts ignore
 * inferType(true); // 16
 * inferType("x"); // 0
 * ```
 */
export function inferType(value: unknown): number {
  return typeof value === "boolean"
    ? 16
    : typeof value === "bigint"
    ? 20
    : value instanceof Uint8Array
    ? 17
    : 0;
}

/**
 * Session settings every connection starts with (see the note on dates).
 *
 * @example
 * ```ts ignore
 * startupMessage({ user: "postgres", ...SESSION });
 * ```
 */
export const SESSION = { TimeZone: "UTC", DateStyle: "ISO", client_encoding: "UTF8" };

/**
 * A parameter as sent: a Date (also inside arrays) as ISO 8601 UTC text,
 * so the server types it from its context instead of as timestamptz.
 */
function toParam(value: unknown, index: number): unknown {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) {
      throw new DbError(
        `postgres: parameter ${index} holds an invalid Date, which cannot be stored`,
        {
          driverCode: "PARAM_INVALID",
        },
      );
    }
    return value.toISOString();
  }
  return Array.isArray(value) ? value.map((x) => toParam(x, index)) : value;
}

/**
 * `params` with Dates converted by {@linkcode toParam}; the same array when there are none.
 *
 * @example
 * ```ts ignore
 * toParams([1, new Date(0)]); // [1, "1970-01-01T00:00:00.000Z"]
 * ```
 */
export function toParams(params: unknown[]): unknown[] {
  let out = params;
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    if (p instanceof Date || Array.isArray(p)) {
      if (out === params) out = params.slice();
      out[i] = toParam(p, i + 1);
    }
  }
  return out;
}

/**
 * How the PostgreSQL driver reads and binds values: exact integers,
 * binary-safe `bytea`, TimeZone-independent timestamps, `date` as text,
 * JSON, and arrays whose NULL elements are `null`.
 *
 * @module
 */
import type postgres from "postgres";
import { Buffer } from "node:buffer";
import { DbError } from "../src/errors.ts";
import { parseInteger, toBytes } from "./_params.ts";

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

function stampText(x: unknown): string {
  return x instanceof Date ? x.toISOString() : String(x);
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

/**
 * The driver's custom types: exact integers (bigint beyond 2^53),
 * binary-safe bytea as Uint8Array, DATE as "YYYY-MM-DD" text, a string
 * bound to json/jsonb sent as JSON text (anything else serialized once);
 * float8 arrives as shortest exact text.
 *
 * @example
 * ```ts ignore
 * const sql = postgres({ types, connection: SESSION });
 * ```
 */
export const types = {
  int8: {
    to: 20,
    from: [20],
    serialize: (x: unknown) => String(x),
    parse: (x: string) => parseInteger(x),
  },
  bytea: {
    to: 17,
    from: [17],
    serialize: (x: Uint8Array) =>
      "\\x" + Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString("hex"),
    parse: (x: string) => toBytes(Buffer.from(x.slice(2), "hex")),
  },
  timestamp: { to: 1114, from: [1114], serialize: stampText, parse: parseStamp },
  timestamptz: { to: 1184, from: [1184], serialize: stampText, parse: parseStamp },
  date: {
    to: 1082,
    from: [1082],
    serialize: (x: unknown) => (x instanceof Date ? x.toISOString().slice(0, 10) : String(x)),
    parse: (x: string) => x,
  },
  json: {
    to: 114,
    from: [114, 3802],
    serialize: (x: unknown) => (typeof x === "string" ? x : JSON.stringify(x)),
    parse: (x: string) => JSON.parse(x),
  },
};

/**
 * Session settings every connection starts with (see the note on dates).
 *
 * @example
 * ```ts ignore
 * const sql = postgres({ types, connection: SESSION });
 * ```
 */
export const SESSION = { TimeZone: "UTC", DateStyle: "ISO" };

/**
 * Replaces the driver's array parsers (which read NULL elements as the
 * text "NULL") with {@linkcode parseArray} over each element's parser.
 *
 * @example
 * ```ts ignore
 * await sql.unsafe("SELECT 1"); // the driver has read the server's types
 * installArrayParsers(sql);
 * ```
 */
export function installArrayParsers(sql: postgres.Sql): void {
  const options = sql.options as postgres.Sql["options"] & {
    shared: { typeArrayMap: Record<number, number> };
  };
  const parsers = options.parsers;
  for (const [oid, array] of Object.entries(options.shared.typeArrayMap)) {
    const element = parsers[Number(oid)] as ((x: string) => unknown) | undefined;
    // Only box (1020) separates its elements with ';'.
    const delimiter = array === 1020 ? ";" : ",";
    parsers[array] = (x: string) => parseArray(x, element, delimiter);
  }
}

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

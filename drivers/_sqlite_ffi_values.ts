/**
 * Values between JavaScript and SQLite's C API for the ffi engine:
 * binding parameters to a prepared statement and reading the columns of
 * its current row, with the mapping of `lunet/sqlite` (integers as numbers,
 * bigints beyond 2^53; text exact, NULs included; BLOBs as fresh
 * `Uint8Array`s).
 *
 * @module
 */
import {
  SQLITE_BLOB,
  SQLITE_FLOAT,
  SQLITE_INTEGER,
  SQLITE_OK,
  SQLITE_TEXT,
  type SqliteSymbols,
} from "./_sqlite_ffi_lib.ts";
import type { Row } from "./_types.ts";

const MIN_I64 = -(2n ** 63n);
const MAX_I64 = 2n ** 63n - 1n;
const EXACT = 2 ** 53;
// SQLITE_TRANSIENT: SQLite copies the bytes before the bind returns.
const TRANSIENT = -1n;

const utf8 = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Binds `params` to `stmt` (positions 1…n). `scratch` holds each string's
 * UTF-8 bytes while it is bound (SQLite copies them) and is replaced by a
 * larger one when a string does not fit; the buffer in use is returned.
 * Throws `TypeError` for a value SQLite cannot store, and an error with
 * SQLite's code when a bind fails.
 *
 * @example
 * ```ts ignore
 * scratch = bindParams(lib, db, stmt, [1, "a", null], scratch);
 * ```
 */
export function bindParams(
  lib: SqliteSymbols,
  db: Deno.PointerValue,
  stmt: Deno.PointerValue,
  params: readonly unknown[],
  scratch: Uint8Array<ArrayBuffer>,
): Uint8Array<ArrayBuffer> {
  for (let i = 0; i < params.length; i++) {
    const v = params[i];
    const at = i + 1;
    let rc: number;
    switch (typeof v) {
      case "number":
        rc = (v | 0) === v
          ? lib.sqlite3_bind_int(stmt, at, v | 0)
          : Number.isSafeInteger(v)
          ? lib.sqlite3_bind_int64(stmt, at, BigInt(v))
          : lib.sqlite3_bind_double(stmt, at, v);
        break;
      case "string":
        if (scratch.length < v.length * 3) scratch = new Uint8Array(v.length * 3 + 64);
        rc = lib.sqlite3_bind_text(
          stmt,
          at,
          scratch,
          encoder.encodeInto(v, scratch).written,
          TRANSIENT,
        );
        break;
      case "bigint":
        if (v < MIN_I64 || v > MAX_I64) throw new TypeError(`sqlite: ${v} does not fit in 64 bits`);
        rc = lib.sqlite3_bind_int64(stmt, at, v);
        break;
      case "boolean":
        rc = lib.sqlite3_bind_int(stmt, at, v ? 1 : 0);
        break;
      default:
        rc = bindObject(lib, stmt, at, v, scratch);
    }
    if (rc !== SQLITE_OK) throw sqliteError(lib, db, rc);
  }
  return scratch;
}

function bindObject(
  lib: SqliteSymbols,
  stmt: Deno.PointerValue,
  at: number,
  v: unknown,
  scratch: Uint8Array<ArrayBuffer>,
): number {
  if (v === null) return lib.sqlite3_bind_null(stmt, at);
  if (v instanceof Uint8Array) {
    // An empty view may have no address, which SQLite would take for NULL.
    return v.byteLength === 0
      ? lib.sqlite3_bind_zeroblob(stmt, at, 0)
      : lib.sqlite3_bind_blob(stmt, at, v, v.byteLength, TRANSIENT);
  }
  if (v instanceof Date) {
    const iso = v.toISOString();
    const n = encoder.encodeInto(iso, scratch).written;
    return lib.sqlite3_bind_text(stmt, at, scratch, n, TRANSIENT);
  }
  throw new TypeError(`sqlite: cannot bind a value of type ${Object.prototype.toString.call(v)}`);
}

/**
 * The column names of a prepared statement.
 *
 * @example
 * ```ts ignore
 * const columns = columnNames(lib, stmt); // ["id", "title"]
 * ```
 */
export function columnNames(lib: SqliteSymbols, stmt: Deno.PointerValue): string[] {
  const width = lib.sqlite3_column_count(stmt);
  const names: string[] = new Array(width);
  for (let i = 0; i < width; i++) {
    const p = lib.sqlite3_column_name(stmt, i);
    names[i] = p === null ? `column${i}` : Deno.UnsafePointerView.getCString(p);
  }
  return names;
}

/**
 * The current row of `stmt` (after `sqlite3_step` returned a row) as an
 * object keyed by `columns`.
 *
 * @example
 * ```ts ignore
 * while (lib.sqlite3_step(stmt) === SQLITE_ROW) rows.push(readRow(lib, stmt, columns));
 * ```
 */
export function readRow(lib: SqliteSymbols, stmt: Deno.PointerValue, columns: string[]): Row {
  const row: Row = {};
  for (let i = 0; i < columns.length; i++) row[columns[i]] = readColumn(lib, stmt, i);
  return row;
}

function readColumn(lib: SqliteSymbols, stmt: Deno.PointerValue, i: number): unknown {
  switch (lib.sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER: {
      // Exact as a double below 2^53 in magnitude; beyond it, a bigint.
      const d = lib.sqlite3_column_double(stmt, i);
      return d > -EXACT && d < EXACT ? d : lib.sqlite3_column_int64(stmt, i);
    }
    case SQLITE_FLOAT:
      return lib.sqlite3_column_double(stmt, i);
    case SQLITE_TEXT: {
      const p = lib.sqlite3_column_text(stmt, i);
      const n = lib.sqlite3_column_bytes(stmt, i);
      if (p === null || n === 0) return "";
      // As many characters as bytes: ASCII, and not cut at a NUL.
      const s = Deno.UnsafePointerView.getCString(p);
      return s.length === n
        ? s
        : utf8.decode(new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, n)));
    }
    case SQLITE_BLOB: {
      const p = lib.sqlite3_column_blob(stmt, i);
      const n = lib.sqlite3_column_bytes(stmt, i);
      const out = new Uint8Array(n);
      if (p !== null && n > 0) Deno.UnsafePointerView.copyInto(p, out);
      return out;
    }
    default:
      return null;
  }
}

/**
 * The error SQLite reports for `rc` on `db`: its message, with the
 * extended result code as `code`.
 *
 * @example
 * ```ts ignore
 * if (rc !== SQLITE_OK) throw sqliteError(lib, db, rc);
 * ```
 */
export function sqliteError(lib: SqliteSymbols, db: Deno.PointerValue, rc: number): Error {
  const code = db === null ? rc : lib.sqlite3_extended_errcode(db) || rc;
  const p = db === null ? lib.sqlite3_errstr(rc) : lib.sqlite3_errmsg(db);
  const message = p === null ? `sqlite error ${rc}` : Deno.UnsafePointerView.getCString(p);
  return Object.assign(new Error(message), { code });
}

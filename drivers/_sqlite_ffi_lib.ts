/**
 * The system SQLite library through `Deno.dlopen`, for the ffi engine of
 * `lunet/sqlite`: the C functions it calls, loaded once per process on
 * the first database that uses the engine. `sqlite3_step` and
 * `sqlite3_prepare_v3` come twice: as direct calls (on the event loop's
 * thread) and as `nonblocking` ones (on a runtime thread, returning a
 * promise). The library is `LUNET_SQLITE_LIB` when set, else the
 * platform's usual name.
 *
 * @module
 */
import { readEnv } from "../src/_env.ts";

const SYMBOLS = {
  sqlite3_libversion_number: { parameters: [], result: "i32" },
  // A call that does nothing on a runtime thread: awaiting it lets the
  // event loop turn (timers, I/O) between two slices of an inline read.
  yield_to_loop: {
    name: "sqlite3_libversion_number",
    parameters: [],
    result: "i32",
    nonblocking: true,
  },
  sqlite3_open_v2: { parameters: ["buffer", "buffer", "i32", "pointer"], result: "i32" },
  sqlite3_close_v2: { parameters: ["pointer"], result: "i32" },
  sqlite3_extended_result_codes: { parameters: ["pointer", "i32"], result: "i32" },
  sqlite3_busy_timeout: { parameters: ["pointer", "i32"], result: "i32" },
  sqlite3_progress_handler: {
    parameters: ["pointer", "i32", "function", "pointer"],
    result: "void",
  },
  sqlite3_interrupt: { parameters: ["pointer"], result: "void" },
  sqlite3_errmsg: { parameters: ["pointer"], result: "pointer" },
  sqlite3_errstr: { parameters: ["i32"], result: "pointer" },
  sqlite3_extended_errcode: { parameters: ["pointer"], result: "i32" },
  // Variadic in C; called with one int and one pointer, which every
  // supported ABI except Apple's arm64 passes as for a plain function.
  sqlite3_db_config: { parameters: ["pointer", "i32", "i32", "pointer"], result: "i32" },
  sqlite3_limit: { parameters: ["pointer", "i32", "i32"], result: "i32" },
  sqlite3_changes64: { parameters: ["pointer"], result: "i64" },
  sqlite3_last_insert_rowid: { parameters: ["pointer"], result: "i64" },
  sqlite3_total_changes64: { parameters: ["pointer"], result: "i64" },
  sqlite3_prepare_v3: {
    parameters: ["pointer", "buffer", "i32", "u32", "buffer", "buffer"],
    result: "i32",
  },
  prepare_off_loop: {
    name: "sqlite3_prepare_v3",
    parameters: ["pointer", "buffer", "i32", "u32", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  sqlite3_finalize: { parameters: ["pointer"], result: "i32" },
  sqlite3_reset: { parameters: ["pointer"], result: "i32" },
  sqlite3_clear_bindings: { parameters: ["pointer"], result: "i32" },
  sqlite3_stmt_readonly: { parameters: ["pointer"], result: "i32" },
  sqlite3_step: { parameters: ["pointer"], result: "i32" },
  step_off_loop: {
    name: "sqlite3_step",
    parameters: ["pointer"],
    result: "i32",
    nonblocking: true,
  },
  sqlite3_bind_parameter_count: { parameters: ["pointer"], result: "i32" },
  sqlite3_bind_null: { parameters: ["pointer", "i32"], result: "i32" },
  sqlite3_bind_int: { parameters: ["pointer", "i32", "i32"], result: "i32" },
  sqlite3_bind_int64: { parameters: ["pointer", "i32", "i64"], result: "i32" },
  sqlite3_bind_double: { parameters: ["pointer", "i32", "f64"], result: "i32" },
  sqlite3_bind_text: { parameters: ["pointer", "i32", "buffer", "i32", "isize"], result: "i32" },
  sqlite3_bind_blob: { parameters: ["pointer", "i32", "buffer", "i32", "isize"], result: "i32" },
  sqlite3_bind_zeroblob: { parameters: ["pointer", "i32", "i32"], result: "i32" },
  sqlite3_column_count: { parameters: ["pointer"], result: "i32" },
  sqlite3_column_name: { parameters: ["pointer", "i32"], result: "pointer" },
  sqlite3_column_type: { parameters: ["pointer", "i32"], result: "i32" },
  sqlite3_column_int64: { parameters: ["pointer", "i32"], result: "i64" },
  sqlite3_column_double: { parameters: ["pointer", "i32"], result: "f64" },
  sqlite3_column_text: { parameters: ["pointer", "i32"], result: "pointer" },
  sqlite3_column_blob: { parameters: ["pointer", "i32"], result: "pointer" },
  sqlite3_column_bytes: { parameters: ["pointer", "i32"], result: "i32" },
} as const;

/** The SQLite C functions the ffi engine calls. */
export type SqliteSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Result codes and flags of the C API. */
export const SQLITE_OK = 0;
/** The statement has another row ready. */
export const SQLITE_ROW = 100;
/** The statement has run to its end. */
export const SQLITE_DONE = 101;
/** A lock could not be taken (the busy timeout ran out). */
export const SQLITE_BUSY = 5;
/** The statement was stopped by `sqlite3_interrupt` or the progress handler. */
export const SQLITE_INTERRUPT = 9;
/** Column types. */
export const SQLITE_INTEGER = 1;
/** A REAL column value. */
export const SQLITE_FLOAT = 2;
/** A TEXT column value. */
export const SQLITE_TEXT = 3;
/** A BLOB column value. */
export const SQLITE_BLOB = 4;
/** Open flags. */
export const OPEN_READONLY = 0x1;
/** Open for reading and writing. */
export const OPEN_READWRITE = 0x2;
/** Create the file if it does not exist. */
export const OPEN_CREATE = 0x4;
/** Serialized mode: the connection may be used from any thread. */
export const OPEN_FULLMUTEX = 0x10000;
/** The statement will be kept and reused. */
export const PREPARE_PERSISTENT = 0x1;
/** `sqlite3_db_config` verbs for double-quoted string literals (DML, DDL). */
export const DBCONFIG_DQS_DML = 1013;
/** See {@linkcode DBCONFIG_DQS_DML}. */
export const DBCONFIG_DQS_DDL = 1014;
/** `sqlite3_db_config` verb: whether an attached database may be written. */
export const DBCONFIG_ENABLE_ATTACH_WRITE = 1021;
/** `sqlite3_limit` category: the most databases ATTACH may add. */
export const LIMIT_ATTACHED = 7;

function libraryNames(): string[] {
  const named = readEnv("LUNET_SQLITE_LIB");
  if (named) return [named];
  switch (Deno.build.os) {
    case "darwin":
      return ["libsqlite3.dylib", "/usr/lib/libsqlite3.dylib"];
    case "windows":
      return ["sqlite3.dll", "winsqlite3.dll"];
    default:
      return ["libsqlite3.so.0", "libsqlite3.so"];
  }
}

let loaded: SqliteSymbols | string | undefined;

/**
 * The library's functions, or why they cannot be had: `--allow-ffi` not
 * granted, or no SQLite library found. Loaded once; later calls return
 * the same answer.
 *
 * @example
 * ```ts ignore
 * const lib = sqliteLibrary();
 * if (typeof lib === "string") console.log("ffi engine unavailable:", lib);
 * ```
 */
export function sqliteLibrary(): SqliteSymbols | string {
  if (loaded !== undefined) return loaded;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return loaded = "--allow-ffi is not granted";
  }
  const failures: string[] = [];
  for (const name of libraryNames()) {
    try {
      const symbols = Deno.dlopen(name, SYMBOLS).symbols;
      if (symbols.sqlite3_libversion_number() < 3_037_000) {
        failures.push(`${name}: SQLite 3.37 or later is needed`);
        continue;
      }
      return loaded = symbols;
    } catch (err) {
      failures.push(`${name}: ${err instanceof Error ? err.message : err}`);
    }
  }
  return loaded = `no usable SQLite library (${failures.join("; ")})`;
}

/** Whether `sqlite3_db_config` can be called through the plain signature above. */
export const DB_CONFIG_CALLABLE = !(Deno.build.os === "darwin" && Deno.build.arch === "aarch64");

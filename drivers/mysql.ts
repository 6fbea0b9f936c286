/**
 * MySQL and MariaDB for lunet, on `npm:mysql2` (loaded only by this
 * module). Statements with parameters (`?`) run as server-side prepared
 * statements; statements without parameters, including `BEGIN`,
 * `SAVEPOINT` and DDL, use the text protocol. A cancelled or timed-out
 * statement is stopped on the server with `KILL QUERY` before its
 * connection is reused. Sessions run in UTC (`time_zone = '+00:00'`).
 *
 * @example
 * ```ts ignore
 * import * as mysql from "@lunet/lunet/mysql";
 * const db = await mysql.open("mysql://root@127.0.0.1:3306/test");
 * await db.exec("CREATE TEMPORARY TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, name TEXT)");
 * const { lastInsertId } = await db.exec("INSERT INTO users (name) VALUES (?)", "bob");
 * console.log(await db.query("SELECT * FROM users WHERE id = ?", lastInsertId));
 * await db.close();
 * ```
 * @module
 */
import mysql from "mysql2";
import { Buffer } from "node:buffer";
import type { WaitOptions } from "../src/_wait.ts";
import { resolveServerConfig } from "./_config.ts";
import { parseInteger, toBytes } from "./_params.ts";
import { PooledDb } from "./_pooled_db.ts";
import type {
  Connector,
  Db,
  ExecResult,
  Kind,
  ResolvedServerConfig,
  Row,
  ServerConfig,
} from "./_types.ts";

export type { WaitOptions } from "../src/_wait.ts";
export type {
  Db,
  ExecResult,
  Queryable,
  Row,
  ServerConfig,
  Sql,
  Statement,
  TransactionOptions,
} from "./_types.ts";

type Conn = mysql.Connection;
type Field = mysql.FieldPacket & {
  columnType?: number;
  columnLength?: number;
  characterSet?: number;
};

const LONGLONG = 8, TINY = 1, BINARY_CHARSET = 63;

type MysqlError = Error & { code?: string; errno?: number; sqlState?: string; fatal?: boolean };

/**
 * What mysql2 keeps but does not type: the socket (it has seen the
 * server's FIN before mysql2 reports the loss) and the error that ended the
 * connection during a command; `lost` is set here, to the error mysql2
 * reported while the connection was idle.
 */
interface Internals {
  stream: { readableEnded?: boolean };
  fatalError: MysqlError | null;
  lost?: MysqlError;
}

function internals(c: Conn): Internals {
  return c as unknown as Internals;
}

function connectOnce(options: mysql.ConnectionOptions): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const c = mysql.createConnection(options);
    c.connect((err) => {
      if (!err) return resolve(c);
      c.destroy();
      reject(err);
    });
  });
}

function call(c: Conn, sql: string, params: unknown[]): Promise<[unknown, Field[] | undefined]> {
  return new Promise((resolve, reject) => {
    const done = (err: unknown, rows: unknown, fields: unknown) => {
      if (err) reject(withCause(c, err as MysqlError));
      else resolve([rows, fields as Field[] | undefined]);
    };
    // deno-lint-ignore no-explicit-any
    if (params.length) c.execute(sql, params.map(toParam) as any, done);
    else c.query(sql, done);
  });
}

const INT64_MAX = 2n ** 63n - 1n, INT64_MIN = -(2n ** 63n), UINT64_MAX = 2n ** 64n - 1n;
// mysql2's `TypedParameter` is a getter that runs `require` on every read
// (≈ 12 µs in Deno): read it once.
const { LONGLONG: BIGINT, DECIMAL } = mysql.TypedParameter;
// A safe integer binds as a BIGINT parameter built directly: the factory
// range-checks it through BigInt arithmetic, which mysql2 repeats when it
// encodes the parameter.
const BIGINT_ZERO = BIGINT(0) as unknown as { type: number; constructor: TypedParameterClass };
type TypedParameterClass = new (type: number, value: unknown, unsigned: boolean) => unknown;
const TypedParameter = BIGINT_ZERO.constructor, BIGINT_TYPE = BIGINT_ZERO.type;

/**
 * mysql2 refuses commands on a connection it lost with an error that has
 * no code; this one carries the code and message of the loss itself.
 */
function withCause(c: Conn, err: MysqlError): MysqlError {
  const lost = internals(c).lost ?? internals(c).fatalError;
  if (err.code !== undefined || !lost || lost === err) return err;
  return Object.assign(new Error(`${err.message}: ${lost.message}`, { cause: lost }), {
    code: lost.code,
    errno: lost.errno,
    sqlState: lost.sqlState,
    fatal: true,
  });
}

/**
 * Binds integers as integers: a safe integer or a bigint in the signed
 * range as BIGINT, a bigint up to 2^64 - 1 as BIGINT UNSIGNED, beyond that
 * as DECIMAL text. mysql2 alone would send numbers as DOUBLE, losing
 * digits beyond 2^53 in arithmetic, and bigints as strings.
 */
function toParam(v: unknown): unknown {
  switch (typeof v) {
    case "number":
      return Number.isSafeInteger(v) ? new TypedParameter(BIGINT_TYPE, v, false) : v;
    case "bigint":
      if (v >= INT64_MIN && v <= INT64_MAX) return BIGINT(v);
      if (v > INT64_MAX && v <= UINT64_MAX) return BIGINT.unsigned(v);
      return DECIMAL(v.toString());
  }
  if (v instanceof Uint8Array && !Buffer.isBuffer(v)) {
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  return v;
}

/**
 * Converts, in the first `count` rows, BIGINT beyond 2^53 to bigint,
 * TINYINT(1) to boolean, binary to Uint8Array.
 */
function fixRows(rows: Row[], count: number, fields: Field[]): void {
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    const name = f.name;
    if (f.columnType === LONGLONG) {
      for (let r = 0; r < count; r++) {
        const v = rows[r][name];
        if (typeof v === "string") rows[r][name] = parseInteger(v);
      }
    } else if (f.columnType === TINY && f.columnLength === 1) {
      for (let r = 0; r < count; r++) {
        const v = rows[r][name];
        if (v !== null) rows[r][name] = v !== 0;
      }
    } else if (f.characterSet === BINARY_CHARSET) {
      for (let r = 0; r < count; r++) {
        const v = rows[r][name];
        if (v instanceof Uint8Array) rows[r][name] = toBytes(v);
      }
    }
  }
}

/** What a statement of `kind` returns, from mysql2's result. */
function toOutput(kind: Kind, rows: unknown, fields: Field[] | undefined): unknown {
  if (kind === "exec") return toResult(rows as ExecResult);
  if (!Array.isArray(rows)) return kind === "one" ? null : [];
  if (kind === "one") {
    if (rows.length === 0) return null;
    if (fields) fixRows(rows, 1, fields);
    return rows[0];
  }
  if (fields) fixRows(rows, rows.length, fields);
  return rows;
}

/** Runs one statement on `c`: one promise, settled from mysql2's callback. */
function runStatement(c: Conn, kind: Kind, sql: string, params: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const done = (err: unknown, rows: unknown, fields: unknown) => {
      if (err) return reject(withCause(c, err as MysqlError));
      try {
        resolve(toOutput(kind, rows, fields as Field[] | undefined));
      } catch (e) {
        reject(e);
      }
    };
    if (params.length === 0) return c.query(sql, done);
    const values = new Array(params.length);
    for (let i = 0; i < params.length; i++) values[i] = toParam(params[i]);
    c.execute(sql, values, done);
  });
}

function toResult(r: { affectedRows?: number; insertId?: number | string }): ExecResult {
  const id = r.insertId;
  return {
    affectedRows: r.affectedRows ?? 0,
    lastInsertId: !id || id === "0" ? null : typeof id === "string" ? parseInteger(id) : id,
  };
}

const DEFAULTS = {
  driver: "mysql",
  schemes: ["mysql:", "mariadb:"],
  port: 3306,
  user: "root",
  socketParam: "socket",
} as const;

/**
 * Opens a pool of MySQL/MariaDB connections (default 10) and checks that
 * one connection succeeds. Settings come from a URL
 * (`mysql://user:password@host:port/database`), fields, or both.
 * A host that is a path is the server's Unix socket:
 * `host: "/run/mysqld/mysqld.sock"`, `?socket=/run/mysqld/mysqld.sock` or
 * `mysql://root@%2Frun%2Fmysqld%2Fmysqld.sock/db` (with
 * `--allow-net=unix:<socket>`, `--allow-read` and `--allow-write` on it).
 * Bad settings (another URL scheme, a port outside 1-65535, a pool that
 * is not a positive integer…) are refused with a TypeError or RangeError
 * naming the setting, before any connection is tried.
 *
 * Values: integer types are numbers, BIGINT beyond 2^53 a bigint;
 * FLOAT/DOUBLE numbers; DECIMAL a string; BOOLEAN (TINYINT(1)) a boolean;
 * BLOB/BINARY a `Uint8Array` of any size; DATETIME/TIMESTAMP a `Date`
 * (UTC); DATE a `"YYYY-MM-DD"` string; NULL is `null`.
 *
 * @example
 * ```ts ignore
 * import * as mysql from "@lunet/lunet/mysql";
 * const db = await mysql.open({ host: "127.0.0.1", user: "root", database: "test", pool: 4 });
 * console.log(await db.queryOne("SELECT ? + 1 AS n", 41)); // { n: 42 }
 * await db.close();
 * ```
 */
export function open(config: ServerConfig | string, opts?: WaitOptions): Promise<Db> {
  let cfg: ResolvedServerConfig;
  try {
    cfg = resolveServerConfig(config, DEFAULTS);
  } catch (err) {
    return Promise.reject(err);
  }
  const socketPath = cfg.host.startsWith("/") ? cfg.host : undefined;
  const label = `mysql ${socketPath ?? `${cfg.host}:${cfg.port}`}/${cfg.database}`;
  const options: mysql.ConnectionOptions = {
    ...(socketPath ? { socketPath } : { host: cfg.host, port: cfg.port }),
    user: cfg.user,
    password: cfg.password,
    database: cfg.database || undefined,
    connectTimeout: cfg.connectTimeout,
    timezone: "Z",
    dateStrings: ["DATE"],
    supportBigNumbers: true,
    bigNumberStrings: false,
    charset: "utf8mb4",
  };
  const connector: Connector<Conn> = {
    dialect: "mysql",
    label,
    async connect() {
      const c = await connectOnce(options);
      // A fatal error also fails the statement in flight; one while idle is
      // kept to explain why later statements are refused.
      c.on("error", (err) => internals(c).lost ??= err);
      await call(c, "SET time_zone = '+00:00'", []);
      return c;
    },
    run: runStatement,
    async interrupt(c) {
      const killer = await connectOnce(options);
      try {
        await call(killer, `KILL QUERY ${c.threadId}`, []);
      } finally {
        killer.destroy();
      }
    },
    isBroken: (_c, err) => (err as { fatal?: boolean })?.fatal === true,
    alive: (c) => {
      const state = c.state;
      return state !== "error" && state !== "disconnected" && !internals(c).stream.readableEnded;
    },
    disconnect: (c) =>
      new Promise<void>((resolve) => {
        c.end(() => {
          c.destroy();
          resolve();
        });
      }),
    begin: () => "START TRANSACTION",
  };
  return new PooledDb("mysql", connector, { max: cfg.pool }).start(opts);
}

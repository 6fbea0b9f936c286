/**
 * PostgreSQL for lunet, on `npm:postgres` (loaded only by this module).
 * Statements with parameters (`$1`, `$2`, …) run as prepared statements;
 * statements without parameters use the simple protocol, so a script of
 * several statements works. A cancelled or timed-out statement is stopped
 * on the server with a cancel request before its connection is reused.
 *
 * Reads outside transactions are pipelined: up to
 * {@linkcode PostgresConfig.pipeline} of them in flight on one connection.
 * A statement that may write waits for a connection of its own and is sent
 * once the statements before it have ended, so one whose caller gave up
 * while it waited never runs. A
 * cached prepared statement that DDL made stale (a column changed type, a
 * table was recreated) is dropped and prepared again, and the statement run
 * once more, outside transactions; inside one the error stands.
 *
 * `exec` reports no inserted id unless the statement says which one it
 * wants: add `RETURNING id`, and `lastInsertId` is the first column of the
 * last returned row.
 *
 * @example
 * ```ts ignore
 * import * as postgres from "@lunet/lunet/postgres";
 * const db = await postgres.open("postgres://postgres@127.0.0.1:5432/test");
 * await db.exec("CREATE TEMP TABLE users (id SERIAL PRIMARY KEY, name TEXT)");
 * const { lastInsertId } = await db.exec(
 *   "INSERT INTO users (name) VALUES ($1) RETURNING id",
 *   "bob",
 * );
 * console.log(lastInsertId, await db.query("SELECT * FROM users WHERE id = $1", lastInsertId));
 * await db.close();
 * ```
 * @module
 */
import postgres from "postgres";
import type { WaitOptions } from "../src/_wait.ts";
import { traceClose, traceOpen } from "../src/trace.ts";
import { checkCount, numberParam, resolveServerConfig } from "./_config.ts";
import { installArrayParsers, SESSION, toParams, types } from "./_postgres_values.ts";
import { PooledDb } from "./_pooled_db.ts";
import type {
  Connector,
  Db,
  ExecResult,
  Kind,
  ResolvedServerConfig,
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

/** Where a running statement's promise keeps its {@linkcode PgStatement}. */
const STATEMENT = Symbol("lunet.postgres.statement");

/** The promise {@linkcode Connector.run} returns, tagged with its statement. */
type Running = Promise<unknown> & { [STATEMENT]?: PgStatement };

/** What lunet reads of one of the driver's queries once it has been sent. */
interface DriverQuery {
  cancel(): unknown;
  active?: boolean;
  state?: { pid?: number; secret?: number };
  /** True when it ran a prepared statement from the connection's cache. */
  prepared?: boolean;
  statement?: { name?: string };
}

interface PgConn {
  sql: postgres.Sql;
  /** Set while a cancel request is on its way: new statements wait for it. */
  draining: Promise<void> | undefined;
  /** Set once the connection closed: the driver would reconnect on its own, outside any transaction. */
  dead: boolean;
}

/** The error of a statement given to a connection that has closed: it was never sent. */
function closedError(label: string): Error {
  return Object.assign(new Error(`${label}: connection closed`), {
    code: "CONNECTION_CLOSED",
    unsent: true,
  });
}

// The connection was lost under a statement with no word from the server.
// (A statement the server ended on purpose, e.g. pg_terminate_backend, gets
// its error, 57P01, and is not run again.)
const LOST = /^(?:CONNECTION_CLOSED|ECONNRESET|EPIPE)$/;

/**
 * True when a failed statement may run again on another connection: it
 * never reached the server (the connection had closed, or its socket had
 * already seen the server's FIN when the statement was written: Node's
 * write-after-end error), or it is a read whose connection was lost.
 */
function isRetryable(err: unknown, read: boolean): boolean {
  const e = err as { unsent?: unknown; code?: unknown; message?: unknown };
  if (e?.unsent === true) return true;
  if (e?.code === "EPIPE" && /ended by the other party/.test(String(e.message))) return true;
  return read && typeof e?.code === "string" && LOST.test(e.code);
}

// Connection-level failures: the connection is gone or unusable.
const FATAL = /^(?:08|57P)|^CONNECT|^E[A-Z]+$/;

function isFatal(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code !== "string" || FATAL.test(code);
}

/**
 * Sends PostgreSQL's CancelRequest for backend `pid` on a connection of its
 * own and waits until the server has read it (it closes the connection).
 */
async function sendCancel(host: string, port: number, pid: number, secret: number): Promise<void> {
  const conn = await Deno.connect({ hostname: host, port });
  const token = traceOpen("tcp", `${host}:${port} cancel request`);
  try {
    const msg = new Uint8Array(16);
    const view = new DataView(msg.buffer);
    view.setInt32(0, 16);
    view.setInt32(4, 80877102);
    view.setUint32(8, pid);
    view.setUint32(12, secret);
    for (let sent = 0; sent < msg.length;) sent += await conn.write(msg.subarray(sent));
    while ((await conn.read(new Uint8Array(16))) !== null) { /* the server sends nothing */ }
  } finally {
    conn.close();
    traceClose("tcp", token);
  }
}

/**
 * True when `err` may come from a cached prepared statement that DDL made
 * stale: a value no longer fits its parameter's type (invalid text for the
 * type, out of range, a bad date or time), a type mismatch, a missing
 * operator, or its result type changed. Other data exceptions (a division
 * by zero) are the statement's own and stand.
 */
function isStalePlan(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === "string" ? e.code : "";
  return /^(?:22P02|22003|22007|22008|42804|42883)$/.test(code) ||
    (code === "0A000" && String(e.message).includes("cached plan"));
}

function isStrayCancel(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e?.code === "57014" && String(e.message).includes("user request");
}

type Rows = postgres.RowList<postgres.Row[]>;

function toResult(rows: Rows): ExecResult {
  const last = rows[rows.length - 1];
  const id = last === undefined ? null : Object.values(last)[0];
  return {
    affectedRows: rows.count ?? 0,
    lastInsertId: (id ?? null) as ExecResult["lastInsertId"],
  };
}

/** What each kind of statement returns of the driver's rows. */
const SHAPE: Record<Kind, (rows: Rows) => unknown> = {
  all: (rows) => Array.from(rows),
  one: (rows) => rows[0] ?? null,
  exec: toResult,
};

/** The driver's options for a statement with parameters (it copies them). */
const PREPARED = Object.freeze({ prepare: true });

/**
 * One statement on a connection: sent (and sent again after a stray
 * cancel or a stale cached plan), and what a cancel request needs of it.
 */
class PgStatement {
  readonly #c: PgConn;
  readonly #kind: Kind;
  readonly #text: string;
  readonly #params: unknown[];
  #replanned = false;
  /** The driver's query last sent, for cancel requests. */
  query: DriverQuery | undefined;
  /** Set once lunet gave it up: it is not sent (again). */
  cancelled = false;

  constructor(c: PgConn, kind: Kind, text: string, params: unknown[]) {
    this.#c = c;
    this.#kind = kind;
    this.#text = text;
    this.#params = params;
  }

  /** Sends it; `retries` bounds the runs again after stray cancels. */
  send(retries: number): Promise<unknown> {
    if (this.cancelled) return Promise.reject(new Error("cancelled before it was sent"));
    const { sql } = this.#c;
    const q = this.#params.length
      // deno-lint-ignore no-explicit-any
      ? sql.unsafe(this.#text, this.#params as any[], PREPARED)
      : sql.unsafe(this.#text).simple();
    this.query = q;
    return q.then(SHAPE[this.#kind], (err) => this.#failed(err, q, retries));
  }

  #failed(err: unknown, sent: DriverQuery, retries: number): Promise<unknown> {
    if (this.cancelled) throw err;
    // A cancel request meant for the statement before this one on the
    // connection: nothing ran (it was rolled back), so run it again.
    if (retries > 0 && isStrayCancel(err)) return this.send(retries - 1);
    // A cached statement that DDL made stale: drop it on the server and
    // run again once; the driver then finds it missing and prepares it
    // afresh. In a transaction the DEALLOCATE fails (the error aborted it)
    // and the error stands; the next call outside one prepares it again.
    const name = sent.statement?.name;
    if (!this.#replanned && sent.prepared && name && isStalePlan(err)) {
      this.#replanned = true;
      return this.#c.sql.unsafe(`DEALLOCATE "${name}"`).simple().then(
        () => this.send(retries),
        () => Promise.reject(err),
      );
    }
    throw err;
  }
}

/**
 * Reads in flight on one connection at once, unless
 * {@linkcode PostgresConfig.pipeline} says otherwise. The depth changes
 * the CPU per read little (the same at 16 and 100 with 1000 reads in
 * flight on 8 connections); a deeper one queues fewer reads in the pool,
 * a shallower one keeps a slow read from holding up as many behind it.
 *
 * @example
 * ```ts
 * import { DEFAULT_PIPELINE } from "@lunet/lunet/postgres";
 * if (DEFAULT_PIPELINE !== 64) throw new Error(String(DEFAULT_PIPELINE));
 * ```
 */
export const DEFAULT_PIPELINE = 64;

/**
 * Settings of {@linkcode open}: the server's, and how deep reads are
 * pipelined on each connection.
 *
 * @example
 * ```ts
 * import type { PostgresConfig } from "@lunet/lunet/postgres";
 * const cfg: PostgresConfig = { url: "postgres://postgres@127.0.0.1:5432/test", pipeline: 32 };
 * if (cfg.pipeline !== 32) throw new Error("pipeline");
 * ```
 */
export interface PostgresConfig extends ServerConfig {
  /**
   * Most reads in flight on one connection at once (1: no pipelining);
   * also `?pipeline=` in the URL. Default {@linkcode DEFAULT_PIPELINE}.
   */
  pipeline?: number;
}

// The pipeline depth of settings resolveServerConfig has checked.
function pipelineOf(config: PostgresConfig | string): number {
  const cfg = typeof config === "string" ? { url: config } : config;
  const fromUrl = cfg.url ? numberParam(new URL(cfg.url).searchParams.get("pipeline")) : undefined;
  return checkCount("pipeline", cfg.pipeline ?? fromUrl ?? DEFAULT_PIPELINE, "postgres", 1);
}

const DEFAULTS = {
  driver: "postgres",
  schemes: ["postgres:", "postgresql:"],
  port: 5432,
  user: "postgres",
} as const;

/**
 * Opens a pool of PostgreSQL connections (default 10) and checks that one
 * connection succeeds. Settings come from a URL
 * (`postgres://user:password@host:port/database`), fields, or both.
 * Bad settings (another URL scheme, a port outside 1-65535, a pool that
 * is not a positive integer…) are refused with a TypeError or RangeError
 * naming the setting, before any connection is tried.
 *
 * Values: `int2`/`int4`/`int8` are numbers, or bigints beyond 2^53;
 * `float4`/`float8` are numbers, exact; `numeric` is a string; `bool` a
 * boolean; `bytea` a `Uint8Array`; `timestamptz` a `Date` (the instant);
 * `timestamp` a `Date` whose UTC fields are its wall-clock time; `date` a
 * `"YYYY-MM-DD"` string; `json`/`jsonb` parsed; arrays are arrays of these,
 * NULL elements `null`; NULL is `null`. These hold whatever the server's or
 * session's TimeZone: each connection starts with TimeZone UTC (so
 * `now()::timestamp` is UTC wall-clock time), values are read without it,
 * and a bound `Date` goes as ISO 8601 UTC text that the server types from
 * its context (into a `date`: its UTC day). A string bound to a
 * `json`/`jsonb` parameter is JSON text; other values are serialized with
 * `JSON.stringify`. An invalid `Date` is refused.
 *
 * Reads (`SELECT`, `VALUES`, `WITH` without DML) are pipelined: up to
 * `pipeline` of them (default {@linkcode DEFAULT_PIPELINE}) are in flight
 * on a connection at once, sent as they come and answered in order. A
 * statement that may write is sent only once every statement before it on
 * its connection has ended, so one given up while it waits is never sent;
 * while it waits, the least loaded connection is kept for it and reads go
 * on on the others. A statement that
 * never reached the server because its connection had closed, and a read
 * whose connection was lost before its answer, run again on a fresh
 * connection; a statement that may write is never sent twice.
 *
 * @example
 * ```ts ignore
 * import * as postgres from "@lunet/lunet/postgres";
 * const db = await postgres.open({ host: "127.0.0.1", user: "postgres", database: "test", pool: 4 });
 * console.log(await db.queryOne("SELECT $1::int + 1 AS n", 41)); // { n: 42 }
 * await db.close();
 * ```
 */
export function open(config: PostgresConfig | string, opts?: WaitOptions): Promise<Db> {
  let cfg: ResolvedServerConfig, pipeline: number;
  try {
    cfg = resolveServerConfig(config, DEFAULTS);
    pipeline = pipelineOf(config);
  } catch (err) {
    return Promise.reject(err);
  }
  const label = `postgres ${cfg.host}:${cfg.port}/${cfg.database}`;
  const connector: Connector<PgConn> = {
    dialect: "postgres",
    label,
    pipeline,
    async connect() {
      let conn: PgConn | undefined;
      const sql = postgres({
        host: cfg.host,
        port: cfg.port,
        user: cfg.user,
        pass: cfg.password,
        database: cfg.database || undefined,
        max: 1,
        connect_timeout: Math.max(1, Math.ceil(cfg.connectTimeout / 1000)),
        // deno-lint-ignore no-explicit-any
        types: types as any,
        connection: SESSION,
        onnotice: () => {},
        onclose: () => {
          if (conn) conn.dead = true;
        },
      });
      try {
        await sql.unsafe("SELECT 1");
      } catch (err) {
        await sql.end({ timeout: 0 });
        throw err;
      }
      installArrayParsers(sql);
      return conn = { sql, draining: undefined, dead: false };
    },
    run(c, kind, text, values) {
      if (c.dead) return Promise.reject(closedError(label));
      let params: unknown[];
      try {
        params = toParams(values);
      } catch (err) {
        return Promise.reject(err);
      }
      const entry = new PgStatement(c, kind, text, params);
      const running: Running = c.draining ? c.draining.then(() => entry.send(3)) : entry.send(3);
      running[STATEMENT] = entry;
      return running;
    },
    async interrupt(c, running) {
      const entry = (running as Running)[STATEMENT];
      if (!entry) return;
      entry.cancelled = true;
      const q = entry.query;
      if (!q) return; // still waiting for an earlier cancel: it will not be sent
      const settled = running.then(() => {}, () => {});
      const backend = q.state;
      if (!backend?.pid) {
        q.cancel(); // not sent yet: the driver drops it from its queue
      } else if (q.active) {
        // New statements wait until the server has taken the cancel request,
        // so it cannot land on one of them.
        const draining = sendCancel(cfg.host, cfg.port, backend.pid, backend.secret ?? 0)
          .then(() => settled, () => settled);
        c.draining = draining;
        await draining;
        if (c.draining === draining) c.draining = undefined;
      }
      // A statement queued behind others on the connection runs to its end.
      await settled;
    },
    isBroken: (c, err) => c.dead || isFatal(err),
    alive: (c) => !c.dead,
    retryable: isRetryable,
    disconnect: (c) => c.sql.end({ timeout: 5 }),
    begin: () => "BEGIN",
  };
  return new PooledDb("postgres", connector, { max: cfg.pool }).start(opts);
}

/**
 * PostgreSQL for lunet, on `npm:postgres` (loaded only by this module).
 * Statements with parameters (`$1`, `$2`, …) run as prepared statements;
 * statements without parameters use the simple protocol, so a script of
 * several statements works. A cancelled or timed-out statement is stopped
 * on the server with a cancel request before its connection is reused.
 *
 * Statements that share a connection wait in turn and are written to it one
 * at a time, so one whose caller gave up while it waited never runs (the
 * price: no pipelining on the wire; a larger pool buys throughput back). A
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
import { resolveServerConfig } from "./_config.ts";
import { installArrayParsers, SESSION, toParams, types } from "./_postgres_values.ts";
import { PooledDb } from "./_pooled_db.ts";
import type { Connector, Db, ExecResult, ServerConfig } from "./_types.ts";

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

/** A statement in flight: the driver's query (for cancel requests), and whether lunet cancelled it. */
interface Running {
  query: DriverQuery | undefined;
  cancelled: boolean;
}

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
  running: WeakMap<Promise<unknown>, Running>;
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
 * stale: its parameter types no longer fit (a data exception, a type
 * mismatch, a missing operator) or its result type changed.
 */
function isStalePlan(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === "string" ? e.code : "";
  return /^(?:22|42804|42883)/.test(code) ||
    (code === "0A000" && String(e.message).includes("cached plan"));
}

function isStrayCancel(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e?.code === "57014" && String(e.message).includes("user request");
}

function toResult(rows: postgres.RowList<postgres.Row[]>): ExecResult {
  const last = rows[rows.length - 1];
  const id = last === undefined ? null : Object.values(last)[0];
  return {
    affectedRows: rows.count ?? 0,
    lastInsertId: (id ?? null) as ExecResult["lastInsertId"],
  };
}

/**
 * Opens a pool of PostgreSQL connections (default 10) and checks that one
 * connection succeeds. Settings come from a URL
 * (`postgres://user:password@host:port/database`), fields, or both.
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
 * Reads (`SELECT`, `VALUES`, `WITH` without DML) are pipelined, up to 16 on
 * a connection; a statement that may write gets a connection of its own,
 * so one given up while it waits for it is never sent. A statement that
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
export function open(config: ServerConfig | string, opts?: WaitOptions): Promise<Db> {
  const cfg = resolveServerConfig(config, { port: 5432, user: "postgres" });
  const label = `postgres ${cfg.host}:${cfg.port}/${cfg.database}`;
  const connector: Connector<PgConn> = {
    dialect: "postgres",
    label,
    // postgres.js pipelines statements on a connection, as its own pool does.
    pipeline: 16,
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
      return conn = { sql, running: new WeakMap(), draining: undefined, dead: false };
    },
    run(c, kind, text, values) {
      if (c.dead) return Promise.reject(closedError(label));
      let params: unknown[];
      try {
        params = toParams(values);
      } catch (err) {
        return Promise.reject(err);
      }
      const entry: Running = { query: undefined, cancelled: false };
      let replanned = false;
      const attempt = (retries: number): Promise<unknown> => {
        if (entry.cancelled) return Promise.reject(new Error("cancelled before it was sent"));
        const q = params.length
          // deno-lint-ignore no-explicit-any
          ? c.sql.unsafe(text, params as any[], { prepare: true })
          : c.sql.unsafe(text).simple();
        const sent: DriverQuery = q;
        entry.query = sent;
        return q.then(
          (rows) =>
            kind === "exec" ? toResult(rows) : kind === "one" ? rows[0] ?? null : Array.from(rows),
          (err) => {
            if (entry.cancelled) throw err;
            // A cancel request meant for the statement before this one on the
            // connection: nothing ran (it was rolled back), so run it again.
            if (retries > 0 && isStrayCancel(err)) return attempt(retries - 1);
            // A cached statement that DDL made stale: drop it on the server
            // and run again once; the driver then finds it missing and
            // prepares it afresh. In a transaction the DEALLOCATE fails (the
            // error aborted it) and the error stands; the next call outside
            // one prepares it again.
            const name = sent.statement?.name;
            if (!replanned && sent.prepared && name && isStalePlan(err)) {
              replanned = true;
              return c.sql.unsafe(`DEALLOCATE "${name}"`).simple().then(
                () => attempt(retries),
                () => Promise.reject(err),
              );
            }
            throw err;
          },
        );
      };
      const running = c.draining ? c.draining.then(() => attempt(3)) : attempt(3);
      c.running.set(running, entry);
      return running;
    },
    async interrupt(c, running) {
      const entry = c.running.get(running);
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

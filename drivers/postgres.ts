/**
 * PostgreSQL for lunet, speaking the server's protocol (3.0) on its own
 * TCP connections, with cleartext, MD5 and SCRAM-SHA-256 passwords and
 * TLS ({@linkcode PostgresConfig.tls}, `?sslmode=` in the URL).
 * Statements with parameters (`$1`, `$2`, …) run as prepared statements;
 * statements without parameters use the simple protocol, so a script of
 * several statements works. A cancelled or timed-out statement is stopped
 * on the server with a cancel request (through TLS when the connection
 * uses it) before its connection is reused.
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
import type { WaitOptions } from "../src/_wait.ts";
import { DbError } from "../src/errors.ts";
import { checkCount, numberParam, resolveServerConfig } from "./_config.ts";
import { PgConnection, type PgQuery, PgServerError } from "./_postgres_wire.ts";
import { toParams } from "./_postgres_values.ts";
import { PooledDb } from "./_pooled_db.ts";
import type { Connector, Db, Kind, ResolvedServerConfig, ServerConfig } from "./_types.ts";

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

interface PgConn {
  wire: PgConnection;
  /** Set while a cancel request is on its way: new statements wait for it. */
  draining: Promise<void> | undefined;
}

/** The error of a statement given to a connection that has closed: it was never sent. */
function closedError(label: string): Error {
  return Object.assign(new Error(`${label}: connection closed`), {
    code: "CONNECTION_CLOSED",
    unsent: true,
  });
}

// The connection was lost under a statement with no word from the server.
const LOST = /^(?:CONNECTION_CLOSED|ECONNRESET|EPIPE)$/;

/**
 * True when a failed statement may run again on another connection: it
 * never reached the server (its connection had closed before it was
 * written), or it is a read whose connection was lost, silently or with
 * the server's FATAL error (`pg_terminate_backend`, a shutdown).
 */
function isRetryable(err: unknown, read: boolean): boolean {
  const e = err as { unsent?: unknown; code?: unknown };
  if (e?.unsent === true) return true;
  if (!read) return false;
  return err instanceof PgServerError
    ? err.severity === "FATAL"
    : typeof e?.code === "string" && LOST.test(e.code);
}

// Connection-level failures: the connection is gone or unusable.
const FATAL = /^(?:08|57P)|^CONNECT|^E[A-Z]+$/;

function isFatal(err: unknown): boolean {
  if (err instanceof DbError) return false;
  const code = (err as { code?: unknown })?.code;
  return typeof code !== "string" || FATAL.test(code);
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
  return /^(?:22P02|22003|22007|22008|42804|42883|26000)$/.test(code) ||
    (code === "0A000" && String(e.message).includes("cached plan"));
}

function isStrayCancel(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e?.code === "57014" && String(e.message).includes("user request");
}

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
  /** The query last sent, for cancel requests. */
  query: PgQuery | undefined;
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
    const q = this.#c.wire.query(this.#kind, this.#text, this.#params);
    this.query = q;
    return q.promise.catch((err) => this.#failed(err, q, retries));
  }

  #failed(err: unknown, sent: PgQuery, retries: number): Promise<unknown> {
    if (this.cancelled) throw err;
    // A cancel request meant for the statement before this one on the
    // connection: nothing ran (it was rolled back), so run it again.
    if (retries > 0 && isStrayCancel(err)) return this.send(retries - 1);
    // A cached statement that DDL made stale: forget it (the next run
    // prepares it afresh) and run again once. In a failed transaction the
    // error stands; the next call prepares it again.
    if (sent.cached && isStalePlan(err)) {
      this.#c.wire.forget(sent);
      if (!this.#replanned && sent.status !== "E") {
        this.#replanned = true;
        return this.send(retries);
      }
    }
    throw err;
  }
}

/**
 * Reads in flight on one connection at once, unless
 * {@linkcode PostgresConfig.pipeline} says otherwise. A deeper pipeline
 * queues fewer reads in the pool and sends more per write; a shallower one
 * keeps a slow read, or a server process that is not scheduled, from
 * holding up as many behind it, and leaves the pool to hand reads out in
 * order (bench/RESULTS.md has the measurements behind 8).
 *
 * @example
 * ```ts
 * import { DEFAULT_PIPELINE } from "@lunet/lunet/postgres";
 * if (DEFAULT_PIPELINE !== 8) throw new Error(String(DEFAULT_PIPELINE));
 * ```
 */
export const DEFAULT_PIPELINE = 8;

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
  /**
   * TLS for every connection: `true` checks the server's certificate and
   * host name against the system's roots, `{ caCerts }` against these PEM
   * certificates; a server that declines TLS fails the connection. Also
   * `?sslmode=` in the URL: `require`, `verify-ca` and `verify-full` ask
   * for TLS (each with the certificate checked), `disable` for none.
   * Default: no TLS. Not used on a Unix socket (as libpq does not).
   */
  tls?: boolean | { caCerts: string[] };
}

// The sslmode values of libpq's URLs this driver takes.
const SSLMODES = new Set(["disable", "require", "verify-ca", "verify-full"]);

// The TLS settings of `config` (its URL checked by resolveServerConfig).
function tlsOf(config: PostgresConfig | string): { caCerts?: string[] } | undefined {
  const cfg = typeof config === "string" ? { url: config } : config;
  if (cfg.tls !== undefined) {
    if (cfg.tls === false) return undefined;
    if (cfg.tls === true) return {};
    const caCerts = (cfg.tls as { caCerts?: unknown })?.caCerts;
    if (!Array.isArray(caCerts) || !caCerts.every((c) => typeof c === "string")) {
      throw new TypeError("postgres: tls is true, false or { caCerts: string[] }");
    }
    return { caCerts };
  }
  const mode = cfg.url ? new URL(cfg.url).searchParams.get("sslmode") : null;
  if (mode === null) return undefined;
  if (!SSLMODES.has(mode)) {
    throw new TypeError(
      `postgres: sslmode is one of ${[...SSLMODES].join(", ")}, got ${JSON.stringify(mode)}`,
    );
  }
  return mode === "disable" ? undefined : {};
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
  socketParam: "host",
} as const;

/**
 * Opens a pool of PostgreSQL connections (default 10) and checks that one
 * connection succeeds. Settings come from a URL
 * (`postgres://user:password@host:port/database`), fields, or both.
 * A host that is a path is the directory of the server's Unix socket
 * (`.s.PGSQL.<port>` in it), as with libpq: `host: "/var/run/postgresql"`,
 * `?host=/var/run/postgresql` or `postgres://%2Fvar%2Frun%2Fpostgresql/db`
 * (with `--allow-net=unix:<socket>`, `--allow-read` and `--allow-write` on it).
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
  let cfg: ResolvedServerConfig, pipeline: number, tls: { caCerts?: string[] } | undefined;
  try {
    cfg = resolveServerConfig(config, DEFAULTS);
    pipeline = pipelineOf(config);
    tls = tlsOf(config);
  } catch (err) {
    return Promise.reject(err);
  }
  const label = `postgres ${cfg.host}:${cfg.port}/${cfg.database}`;
  const connector: Connector<PgConn> = {
    dialect: "postgres",
    label,
    pipeline,
    async connect() {
      const wire = await PgConnection.open({
        host: cfg.host,
        port: cfg.port,
        user: cfg.user,
        password: cfg.password,
        database: cfg.database || undefined,
        connectTimeout: cfg.connectTimeout,
        tls,
        label,
      });
      return { wire, draining: undefined };
    },
    run(c, kind, text, values) {
      if (c.wire.dead) return Promise.reject(closedError(label));
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
      if (c.wire.abandon(q, new Error("cancelled before it was sent"))) return await settled;
      if (q.running && c.wire.pid) {
        // New statements wait until the server has taken the cancel request,
        // so it cannot land on one of them.
        const draining = c.wire.cancel().then(() => settled, () => settled);
        c.draining = draining;
        await draining;
        if (c.draining === draining) c.draining = undefined;
      }
      // A statement queued behind others on the connection runs to its end.
      await settled;
    },
    isBroken: (c, err) => c.wire.dead || isFatal(err),
    alive: (c) => !c.wire.dead,
    retryable: isRetryable,
    disconnect: (c) => c.wire.close(),
    begin: () => "BEGIN",
  };
  return new PooledDb("postgres", connector, { max: cfg.pool }).start(opts);
}

/**
 * Test helper: the three database targets with what differs between them
 * (placeholders, DDL, a slow statement), and whether each one's server can
 * be reached. Outside CI an unreachable server makes its tests ignored,
 * with the reason in the test name; with `CI=true` it fails the run.
 */
import assert from "node:assert/strict";
import type { Db } from "../drivers/_types.ts";
import { envFlag, readEnv } from "../src/_env.ts";
import { rejection } from "./rejection.ts";

/** Default connection URLs, overridden by `LUNET_MYSQL_URL` / `LUNET_POSTGRES_URL`. */
export const MYSQL_URL = readEnv("LUNET_MYSQL_URL") ?? "mysql://root@127.0.0.1:3306/test";
/** See {@linkcode MYSQL_URL}. */
export const POSTGRES_URL = readEnv("LUNET_POSTGRES_URL") ??
  "postgres://postgres@127.0.0.1:5432/test";

/** One database under test. */
export interface Target {
  name: "sqlite" | "mysql" | "postgres";
  /** Opens a database; `pool` sets the pool size of server drivers. */
  open(pool?: number): Promise<Db>;
  /** Why the target cannot be tested, or `undefined` when it can. */
  unreachable: string | undefined;
  /** Column type of an auto-increment primary key. */
  autoId: string;
  /** Suffix of an INSERT for `lastInsertId` (PostgreSQL: `RETURNING id`). */
  returning: string;
  /** A statement that runs for a second or more. */
  slow: string;
  /** A statement that runs for three seconds or more. */
  long: string;
}

async function reach(url: string): Promise<string | undefined> {
  const u = new URL(url);
  const port = Number(u.port || (u.protocol.startsWith("mysql") ? 3306 : 5432));
  const host = u.hostname || "127.0.0.1";
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 1000);
  try {
    const conn = await Deno.connect(
      { hostname: host, port, signal: ac.signal } as Deno.ConnectOptions,
    );
    conn.close();
    return undefined;
  } catch (err) {
    return `${host}:${port} unreachable (${err instanceof Error ? err.message : err})`;
  } finally {
    clearTimeout(timer);
  }
}

/** The three targets, reachability decided once. */
export const targets: Target[] = [
  {
    name: "sqlite",
    open: async () => (await import("../drivers/sqlite.ts")).open(":memory:"),
    unreachable: undefined,
    autoId: "INTEGER PRIMARY KEY",
    returning: "",
    slow:
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) AS n FROM c",
    long:
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 12000000) SELECT count(*) AS n FROM c",
  },
  {
    name: "mysql",
    open: async (pool = 4) => (await import("../drivers/mysql.ts")).open({ url: MYSQL_URL, pool }),
    unreachable: await reach(MYSQL_URL),
    autoId: "INT AUTO_INCREMENT PRIMARY KEY",
    returning: "",
    slow: "SELECT SLEEP(3) AS n",
    long: "SELECT SLEEP(3) AS n",
  },
  {
    name: "postgres",
    open: async (pool = 4) =>
      (await import("../drivers/postgres.ts")).open({ url: POSTGRES_URL, pool }),
    unreachable: await reach(POSTGRES_URL),
    autoId: "SERIAL PRIMARY KEY",
    returning: " RETURNING id",
    slow: "SELECT pg_sleep(3) AS n",
    long: "SELECT pg_sleep(3) AS n",
  },
];

/** How to name a server connection and end it from another one, per server target. */
export const serverKill = {
  mysql: { id: "SELECT CONNECTION_ID() AS id", kill: (id: unknown) => `KILL ${Number(id)}` },
  postgres: {
    id: "SELECT pg_backend_pid() AS id",
    kill: (id: unknown) => `SELECT pg_terminate_backend(${Number(id)})`,
  },
};

/** Looks a target up by name. */
export function target(name: Target["name"]): Target {
  return targets.find((t) => t.name === name)!;
}

/**
 * Registers a test for `t`: ignored with the reason when its server is
 * unreachable outside CI; failing with the reason under `CI=true`.
 */
export function dbTest(
  t: Target,
  name: string,
  fn: (ctx: Deno.TestContext) => Promise<void>,
): void {
  requiredTest(t.name, t.unreachable, `${t.name}: ${name}`, fn);
}

/**
 * Registers test `name`, which needs `what`: when `why` says why `what` is
 * unavailable, the test is ignored with the reason outside CI and fails
 * with it under `CI=true`.
 */
export function requiredTest(
  what: string,
  why: string | undefined,
  name: string,
  fn: (ctx: Deno.TestContext) => Promise<void>,
): void {
  if (why && envFlag("CI")) {
    Deno.test(name, () => {
      throw new Error(`${what} is required under CI=true: ${why}`);
    });
    return;
  }
  Deno.test({ name: why ? `${name} (ignored: ${why})` : name, ignore: !!why, fn });
}

/** Rewrites `?` placeholders to `$1`, `$2`, … for PostgreSQL. */
export function ph(t: Target, sql: string): string {
  if (t.name !== "postgres") return sql;
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

/** A table name no other test run uses. */
export function tableName(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().slice(0, 8)}`;
}

/** One row of a type-mapping table: column type, value bound, value read back. */
export type TypeCase = [type: string, input: unknown, output: unknown];

/**
 * Stores each case's input through a bound parameter in a column of its
 * type and checks what comes back, column by column.
 */
export async function checkTypes(t: Target, db: Db, cases: TypeCase[]): Promise<void> {
  const { deepEqual } = await import("node:assert/strict");
  const table = tableName("lunet_types");
  const cols = cases.map(([type], i) => `c${i} ${type}`).join(", ");
  await db.exec(`CREATE TABLE ${table} (${cols})`);
  try {
    const names = cases.map((_, i) => `c${i}`).join(", ");
    const marks = ph(t, cases.map(() => "?").join(", "));
    await db.exec(`INSERT INTO ${table} (${names}) VALUES (${marks})`, ...cases.map((c) => c[1]));
    const row = await db.queryOne(`SELECT ${names} FROM ${table}`);
    cases.forEach(([type, , output], i) => deepEqual(row?.[`c${i}`], output, `${type}`));
  } finally {
    await db.exec(`DROP TABLE ${table}`);
  }
}

/** `n` bytes with NULs and every byte value, for binary-safety checks. */
export function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7) & 0xff;
  return out;
}

/**
 * Gives `slow` up after `after` ms (a TimeoutError), then checks that the
 * next statement on the pool of one answers within 10 s: a TimeoutError
 * there means `slow` went on past its cancel or kill.
 */
export async function giveUpThenNext(db: Db, slow: string, after = 200): Promise<void> {
  const err = await rejection(db.query({ sql: slow, timeout: after }));
  assert.equal((err as Error)?.name, "TimeoutError", String(err));
  assert.deepEqual(await db.query({ sql: "SELECT 3 AS n", timeout: 10_000 }), [{ n: 3 }]);
}

/**
 * Database stress: for SQLite (file database with readers) and each
 * reachable server, several rounds of 100 tasks doing a mix of inserts,
 * point selects, transactions with savepoints that commit or roll back,
 * and statements abandoned by a short timeout. After each round the row
 * count must match the committed work exactly; after close, no worker
 * thread, task or connection may be left. A watchdog fails a stalled run.
 *
 * Run: deno run -A stress/db_stress.ts [--smoke]
 */
import { LunetError, scope, spawn, trace } from "../mod.ts";
import type { Db } from "../drivers/_types.ts";
import { envFlag, readEnv } from "../src/_env.ts";

const smoke = Deno.args.includes("--smoke");
const TASKS = 100, OPS = smoke ? 10 : 50, ROUNDS = smoke ? 2 : 10;
const WATCHDOG_MS = smoke ? 60_000 : 600_000;
const MYSQL_URL = readEnv("LUNET_MYSQL_URL") ?? "mysql://root@127.0.0.1:3306/test";
const POSTGRES_URL = readEnv("LUNET_POSTGRES_URL") ?? "postgres://postgres@127.0.0.1:5432/test";

interface Case {
  name: string;
  open(): Promise<Db>;
  autoId: string;
  ph(sql: string): string;
  url?: string;
}

const q = (sql: string) => sql;
const dollar = (sql: string) => {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
};

const dir = await Deno.makeTempDir();
const cases: Case[] = [
  {
    name: "sqlite",
    open: async () => (await import("../drivers/sqlite.ts")).open({ path: `${dir}/stress.db` }),
    autoId: "INTEGER PRIMARY KEY",
    ph: q,
  },
  {
    name: "mysql",
    open: async () => (await import("../drivers/mysql.ts")).open({ url: MYSQL_URL, pool: 8 }),
    autoId: "INT AUTO_INCREMENT PRIMARY KEY",
    ph: q,
    url: MYSQL_URL,
  },
  {
    name: "postgres",
    open: async () => (await import("../drivers/postgres.ts")).open({ url: POSTGRES_URL, pool: 8 }),
    autoId: "SERIAL PRIMARY KEY",
    ph: dollar,
    url: POSTGRES_URL,
  },
];

async function reachable(url: string): Promise<boolean> {
  try {
    const u = new URL(url);
    const conn = await Deno.connect({
      hostname: u.hostname,
      port: Number(u.port || (u.protocol.startsWith("mysql") ? 3306 : 5432)),
    });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

async function round(db: Db, c: Case, table: string): Promise<[ops: number, committed: number]> {
  let ops = 0, committed = 0;
  const insert = c.ph(`INSERT INTO ${table} (task, v) VALUES (?, ?)`);
  await scope(() => {
    for (let t = 0; t < TASKS; t++) {
      spawn(async () => {
        for (let i = 0; i < OPS; i++) {
          switch ((t + i) % 4) {
            case 0:
              await db.exec(insert, t, i);
              committed++;
              break;
            case 1: {
              const row = await db.queryOne<{ n: unknown }>(
                c.ph(`SELECT COUNT(*) AS n FROM ${table} WHERE task = ?`),
                t,
              );
              if (row === null) throw new Error("COUNT returned no row");
              break;
            }
            case 2: {
              const keep = i % 8 === 2;
              await db.transaction(async (tx) => {
                await tx.exec(insert, t, -i);
                await tx.transaction(async (sp) => {
                  await sp.exec(insert, t, -i - 1000);
                  throw new Error("roll back the savepoint");
                }).catch(() => {});
                if (!keep) throw new Error("roll back");
              }).then(() => committed++, (err) => {
                if (err.message !== "roll back") throw err;
              });
              break;
            }
            default:
              // Abandoned by a tiny timeout, or finished in time: both are fine.
              await db.query({ sql: c.ph("SELECT ? AS v"), params: [i], timeout: 1 }).catch(
                (err) => {
                  if (!(err instanceof LunetError && err.code === "timeout")) throw err;
                },
              );
          }
          ops++;
        }
      }, { name: `${c.name}-${t}` });
    }
  });
  return [ops, committed];
}

const watchdog = setTimeout(() => {
  console.error(`db stress: stalled for ${WATCHDOG_MS} ms\n${trace.report()}`);
  Deno.exit(2);
}, WATCHDOG_MS);
const baseline = trace.snapshot().total;
let failed = false;
try {
  for (const c of cases) {
    if (c.url && !(await reachable(c.url))) {
      const msg = `${c.name}: ${c.url} unreachable`;
      if (envFlag("CI")) throw new Error(`${msg} (required under CI=true)`);
      console.log(`${msg}, skipped`);
      continue;
    }
    const db = await c.open();
    const table = `lunet_stress_${crypto.randomUUID().slice(0, 8)}`;
    await db.exec(`CREATE TABLE ${table} (id ${c.autoId}, task INT, v INT)`);
    const started = performance.now();
    let ops = 0, expected = 0;
    try {
      for (let r = 1; r <= ROUNDS; r++) {
        const [n, committed] = await round(db, c, table);
        ops += n;
        expected += committed;
        const row = await db.queryOne<{ n: unknown }>(`SELECT COUNT(*) AS n FROM ${table}`);
        if (Number(row?.n) !== expected) {
          throw new Error(`${c.name}: ${row?.n} rows, expected ${expected}`);
        }
        console.log(`${c.name}: round ${r}/${ROUNDS}: ${n} ops, ${expected} rows`);
      }
    } finally {
      await db.exec(`DROP TABLE ${table}`).catch(() => {});
      await db.close();
    }
    const secs = (performance.now() - started) / 1000;
    console.log(`${c.name}: ${ops} ops in ${secs.toFixed(1)} s = ${Math.round(ops / secs)} ops/s`);
  }
  if (trace.snapshot().total !== baseline) throw new Error(`leak:\n${trace.report()}`);
} catch (err) {
  failed = true;
  console.error("db stress failed:", err);
} finally {
  clearTimeout(watchdog);
  await Deno.remove(dir, { recursive: true });
}
if (failed) Deno.exit(1);
console.log("db stress: ok");

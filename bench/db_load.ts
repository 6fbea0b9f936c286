/**
 * Database load comparison, side by side in one run:
 *
 * 1. Event-loop responsiveness: p99 timer lag while a ~200 ms SQLite query
 *    runs, through each lunet/sqlite engine (ffi, worker) vs `node:sqlite`
 *    called directly.
 * 2. SQLite sequential point selects and pages of 20 rows from one task:
 *    each engine vs direct synchronous `node:sqlite`, and a plain
 *    `postMessage` worker round trip.
 * 3. SQLite point selects from 100 concurrent tasks (file database, WAL).
 * 4. PostgreSQL and MySQL: point selects from 100 concurrent tasks through
 *    lunet vs the raw `postgres` / `mysql2` client with the same pool size,
 *    in A B B A order after a warm-up of each.
 * 5. The pool layer alone: 100 tasks through a pool of 10 over an in-memory
 *    connector whose statements complete a macrotask later, vs the same
 *    connector behind a bare callback semaphore. No I/O, so its CPU per
 *    query moves little with the machine's load.
 *
 * Every rate row also gives the process's CPU time per query (user + system
 * from `/proc/self/stat`, all threads, so the SQLite worker threads count;
 * the database servers do not).
 *
 * Run: deno run -A bench/db_load.ts [--smoke]
 */
import { DatabaseSync } from "node:sqlite";
import { scope, spawn } from "../mod.ts";
import * as sqlite from "../drivers/sqlite.ts";
import { PooledDb } from "../drivers/_pooled_db.ts";
import type { Connector, Kind } from "../drivers/_types.ts";
import { readEnv } from "../src/_env.ts";
import { alternate, cpuNow, type Rate } from "./_rates.ts";

const smoke = Deno.args.includes("--smoke");
/** Each side warmed, then run in A B B A order; the best of each. */
const sides = (a: () => Promise<Rate>, b: () => Promise<Rate>) => alternate(a, b, "abba", smoke);
const SECONDS = smoke ? 0.4 : 3;
const POOL = 10;
const TASKS = 100;
const MYSQL_URL = readEnv("LUNET_MYSQL_URL") ?? "mysql://root@127.0.0.1:3306/test";
const POSTGRES_URL = readEnv("LUNET_POSTGRES_URL") ?? "postgres://postgres@127.0.0.1:5432/test";
// ~200 ms of work on this machine.
const SLOW = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 800000) " +
  "SELECT count(*) AS n FROM c";

const rows: string[][] = [];
function row(...cells: string[]): void {
  rows.push(cells);
  console.error(cells.join(" | "));
}
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

function measured(n: number, start: number, cpu0: number): Rate {
  const cpu = cpuNow() - cpu0;
  return { qps: n / ((performance.now() - start) / 1000), cpu: cpu / n };
}

const us = (r: Rate) => `${r.cpu.toFixed(1)} µs CPU/q`;
const cells = (r: Rate) => `${fmt(r.qps)} (${us(r)})`;

/** Runs `op` in a loop for the configured time. */
async function rate(op: (i: number) => unknown): Promise<Rate> {
  for (let i = 0; i < 200; i++) await op(i); // warm-up
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  const cpu0 = cpuNow();
  const start = performance.now();
  while (performance.now() < end) {
    for (let k = 0; k < 100; k++) await op(n++);
  }
  return measured(n, start, cpu0);
}

/** `tasks` tasks each loop over `op` for the configured time; the total rate. */
async function concurrentRate(tasks: number, op: (i: number) => Promise<unknown>): Promise<Rate> {
  for (let i = 0; i < 200; i++) await op(i);
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  const cpu0 = cpuNow();
  const start = performance.now();
  await scope(() => {
    for (let t = 0; t < tasks; t++) {
      spawn(async () => {
        while (performance.now() < end) await op(n++);
      });
    }
  });
  return measured(n, start, cpu0);
}

/** p99 lag (ms) of a 1 ms timer chain while `work` runs. */
async function timerLag(work: () => Promise<unknown> | unknown): Promise<number> {
  const lags: number[] = [];
  let running = true;
  const ticker = (async () => {
    while (running) {
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 1));
      lags.push(performance.now() - t0 - 1);
    }
  })();
  await new Promise((r) => setTimeout(r, 20));
  await work();
  await new Promise((r) => setTimeout(r, 20));
  running = false;
  await ticker;
  lags.sort((a, b) => a - b);
  return lags[Math.min(lags.length - 1, Math.floor(lags.length * 0.99))];
}

async function sqliteRows(): Promise<void> {
  const direct = new DatabaseSync(":memory:");
  const setup = "CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT)";
  direct.exec(setup);
  for (let i = 1; i <= 1000; i++) {
    direct.prepare("INSERT INTO kv (v) VALUES (?)").run(`value ${i}`);
  }
  const point = "SELECT v FROM kv WHERE id = ?";
  const page = "SELECT id, v FROM kv WHERE id > ? ORDER BY id LIMIT 20";
  const pointStmt = direct.prepare(point);
  const pageStmt = direct.prepare(page);
  const pmRate = await postMessageRate();
  row("SQLite sequential point selects, a plain postMessage worker (q/s)", cells(pmRate), "", "");
  for (const engine of ["ffi", "worker"] as const) {
    const db = await sqlite.open({ path: ":memory:", engine });
    await db.exec(setup);
    await db.transaction(async (tx) => {
      for (let i = 1; i <= 1000; i++) await tx.exec("INSERT INTO kv (v) VALUES (?)", `value ${i}`);
    });
    const t0 = performance.now();
    await db.query(SLOW);
    const slowMs = performance.now() - t0;
    // Several queries back to back, so the p99 rests on enough timer samples.
    const reps = smoke ? 2 : 6;
    const lagIdle = await timerLag(() => new Promise((r) => setTimeout(r, slowMs * reps)));
    const lagLunet = await timerLag(async () => {
      for (let i = 0; i < reps; i++) await db.query(SLOW);
    });
    const lagDirect = await timerLag(() => {
      for (let i = 0; i < reps; i++) direct.prepare(SLOW).get();
    });
    row(
      `${engine}: p99 timer lag during ${reps} × ${
        slowMs.toFixed(0)
      } ms SQLite queries (ms; idle loop ${lagIdle.toFixed(2)})`,
      lagLunet.toFixed(2),
      `direct node:sqlite: ${lagDirect.toFixed(2)}`,
      ratio(lagDirect, lagLunet) + " better",
    );
    const [pointRate, directPoint] = await sides(
      () => rate((i) => db.queryOne(point, (i % 1000) + 1)),
      () => rate((i) => pointStmt.get((i % 1000) + 1)),
    );
    row(
      `${engine}: SQLite sequential point selects, one task (q/s)`,
      cells(pointRate),
      `direct node:sqlite (blocking): ${cells(directPoint)}`,
      ratio(pointRate.qps, directPoint.qps),
    );
    const [pageRate, directPage] = await sides(
      () => rate((i) => db.query(page, i % 980)),
      () => rate((i) => pageStmt.all(i % 980)),
    );
    row(
      `${engine}: SQLite pages of 20 rows, one task (q/s)`,
      cells(pageRate),
      `direct node:sqlite (blocking): ${cells(directPage)}`,
      ratio(pageRate.qps, directPage.qps),
    );
    await db.close();

    const dir = await Deno.makeTempDir();
    const file = await sqlite.open({ path: `${dir}/bench.db`, readers: 2, engine });
    await file.exec(setup);
    await file.transaction(async (tx) => {
      for (let i = 1; i <= 1000; i++) await tx.exec("INSERT INTO kv (v) VALUES (?)", `value ${i}`);
    });
    const conc = await concurrentRate(TASKS, (i) => file.queryOne(point, (i % 1000) + 1));
    row(
      `${engine}: SQLite point selects, ${TASKS} tasks, file DB, 2 readers (q/s)`,
      cells(conc),
      `one task: ${fmt(pointRate.qps)}`,
      ratio(conc.qps, pointRate.qps),
    );
    await file.close();
    await Deno.remove(dir, { recursive: true });
  }
  direct.close();
}

/** A plain worker answering point selects over postMessage (the baseline). */
async function postMessageRate(): Promise<Rate> {
  const src = `
    import { DatabaseSync } from "node:sqlite";
    const db = new DatabaseSync(":memory:");
    db.exec("CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT)");
    for (let i = 1; i <= 1000; i++) db.prepare("INSERT INTO kv (v) VALUES (?)").run("value " + i);
    const stmt = db.prepare("SELECT v FROM kv WHERE id = ?");
    self.onmessage = (e) => self.postMessage(stmt.get(e.data));`;
  const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  let resolve: (v: unknown) => void = () => {};
  worker.onmessage = (e) => resolve(e.data);
  try {
    return await rate((i) =>
      new Promise((r) => {
        resolve = r;
        worker.postMessage((i % 1000) + 1);
      })
    );
  } finally {
    worker.terminate();
    URL.revokeObjectURL(url);
  }
}

async function reachable(url: string, port: number): Promise<boolean> {
  try {
    const u = new URL(url);
    const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port || port) });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

async function postgresRows(): Promise<void> {
  if (!(await reachable(POSTGRES_URL, 5432))) {
    return row("PostgreSQL", "skipped: unreachable", "", "");
  }
  const { default: postgres } = await import("npm:postgres@^3.4");
  const pg = await import("../drivers/postgres.ts");
  const raw = postgres(POSTGRES_URL, { max: POOL });
  const db = await pg.open({ url: POSTGRES_URL, pool: POOL });
  const sql = "SELECT $1::int AS x";
  const [rawRate, lunetRate] = await sides(
    () => concurrentRate(TASKS, (i) => raw.unsafe(sql, [i], { prepare: true })),
    () => concurrentRate(TASKS, (i) => db.queryOne(sql, i)),
  );
  row(
    `PostgreSQL point selects, ${TASKS} tasks, pool ${POOL} (q/s)`,
    cells(lunetRate),
    `raw postgres: ${cells(rawRate)}`,
    ratio(lunetRate.qps, rawRate.qps),
  );
  await db.close();
  await raw.end();
}

async function mysqlRows(): Promise<void> {
  if (!(await reachable(MYSQL_URL, 3306))) return row("MySQL", "skipped: unreachable", "", "");
  const { default: mysql } = await import("mysql2");
  const my = await import("../drivers/mysql.ts");
  const raw = mysql.createPool({ uri: MYSQL_URL, connectionLimit: POOL });
  const db = await my.open({ url: MYSQL_URL, pool: POOL });
  const sql = "SELECT ? AS x";
  const [rawRate, lunetRate] = await sides(
    () =>
      concurrentRate(
        TASKS,
        (i) =>
          new Promise((resolve, reject) =>
            raw.execute(sql, [i], (err, rows) => err ? reject(err) : resolve(rows))
          ),
      ),
    () => concurrentRate(TASKS, (i) => db.queryOne(sql, i)),
  );
  row(
    `MySQL point selects, ${TASKS} tasks, pool ${POOL} (q/s)`,
    cells(lunetRate),
    `raw mysql2: ${cells(rawRate)}`,
    ratio(lunetRate.qps, rawRate.qps),
  );
  await db.close();
  await new Promise((r) => raw.end(r));
}

/** Statements that complete in batches one macrotask later, like replies read from a socket. */
class LaterQueue {
  #pending: Array<() => void> = [];
  #channel = new MessageChannel();
  constructor() {
    this.#channel.port1.onmessage = () => {
      const list = this.#pending;
      this.#pending = [];
      for (const f of list) f();
    };
  }
  run(kind: Kind): Promise<unknown> {
    return new Promise((resolve) => {
      if (this.#pending.push(() => resolve(kind === "one" ? { x: 1 } : [{ x: 1 }])) === 1) {
        this.#channel.port2.postMessage(0);
      }
    });
  }
  close(): void {
    this.#channel.port1.close();
  }
}

async function poolRows(): Promise<void> {
  const later = new LaterQueue();
  let opened = 0;
  const connector: Connector<number> = {
    dialect: "mysql",
    label: "in-memory",
    connect: () => Promise.resolve(opened++),
    run: (_c, kind) => later.run(kind),
    interrupt: () => Promise.resolve(),
    isBroken: () => false,
    alive: () => true,
    disconnect: () => Promise.resolve(),
    begin: () => "BEGIN",
  };
  const db = await new PooledDb("mysql", connector, { max: POOL }).start();
  // The baseline: the same statements behind a counting semaphore of callbacks.
  let free = POOL;
  const queue: Array<() => void> = [];
  const bare = () =>
    new Promise((resolve) => {
      const go = () =>
        later.run("one").then((row) => {
          const next = queue.shift();
          if (next) next();
          else free++;
          resolve(row);
        });
      if (free > 0) {
        free--;
        go();
      } else queue.push(go);
    });
  const sql = "SELECT ? AS x";
  const [lunetRate, bareRate] = await sides(
    () => concurrentRate(TASKS, (i) => db.queryOne(sql, i)),
    () => concurrentRate(TASKS, bare),
  );
  row(
    `Pool layer alone, ${TASKS} tasks, pool ${POOL}, in-memory connector (q/s)`,
    cells(lunetRate),
    `callback semaphore: ${cells(bareRate)}`,
    ratio(lunetRate.qps, bareRate.qps),
  );
  await db.close();
  later.close();
}

await sqliteRows();
await postgresRows();
await mysqlRows();
await poolRows();

console.log(`\n## Database (${smoke ? "smoke, " : ""}${SECONDS} s per case)\n`);
console.log("| case | lunet | peer | lunet vs peer |");
console.log("| --- | ---: | ---: | ---: |");
for (const r of rows) console.log(`| ${r.join(" | ")} |`);

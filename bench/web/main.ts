/**
 * Web-framework benchmarks of the TechEmpower kind, side by side in one
 * run, on PostgreSQL: lunet/http + lunet/postgres vs `Deno.serve` +
 * `npm:postgres` vs `node:http` (Node) + `npm:postgres`, each server in a
 * process of its own with a pool of 8 connections; a fourth row, lunet/http
 * querying straight through `npm:postgres`, tells the HTTP engine's share
 * from the driver's.
 *
 * Test types, by the TechEmpower rules: plaintext (16 requests pipelined
 * per connection), JSON (serialised per request), single query, multiple
 * queries (20), fortunes (all rows plus one, sorted, escaped into an HTML
 * template) and updates (20 reads, one batched update) on a `world` table
 * of 10 000 rows read at random ids and a `fortune` table; no result is
 * cached; every answer carries `Server` and `Date`. Every server's answers
 * are checked first. Then each test warms every server up and runs A B B A
 * blocks against `Deno.serve` with `wrk -t1 -c50`; the table gives mean
 * req/s, the ratio to `Deno.serve` in the same blocks, p50/p99 latency,
 * the server's peak RSS during the test and its CPU use (% of one core),
 * and an SVG chart of the ratios is written. Last, the RealWorld example
 * (`GET /api/articles`, `GET /api/articles/:slug`) on SQLite and
 * PostgreSQL.
 *
 *     deno run -A bench/web/main.ts [--smoke] [--seconds=5] [--chart=bench/web/results.svg]
 *       [--only=plaintext,json,db,queries,fortunes,updates,realworld]
 *
 * PostgreSQL: `LUNET_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/test)
 * names the server; the benchmark creates its own databases and drops them.
 * `--smoke` checks every server and runs each test once for 1 s, writing
 * the chart to a temporary file.
 *
 * @module
 */
import * as postgres from "../../drivers/postgres.ts";
import { barChart, type Group } from "./_chart.ts";
import { createTfbDatabase, dropDatabase } from "./_db.ts";
import { measure, type Row } from "./_measure.ts";
import { type Peer, start, stop } from "./_procs.ts";
import { benchRealWorld } from "./_realworld.ts";
import { type Load, removeScripts } from "./_wrk.ts";

function option(name: string, fallback: string): string {
  return Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
}

const smoke = Deno.args.includes("--smoke");
const seconds = smoke ? 1 : Number(option("seconds", "5"));
const POOL = 8;
const ADMIN = Deno.env.get("LUNET_POSTGRES_URL") ?? "postgres://postgres@127.0.0.1:5432/test";
// Per run, so runs by others on the same server (which drop theirs with FORCE) leave it alone.
const DB_NAME = `lunet_web_bench_${Deno.pid}`;
const here = (p: string) => new URL(p, import.meta.url).pathname;
const only = option("only", "").split(",").filter(Boolean);
const picked = (name: string) => only.length === 0 || only.some((o) => name.startsWith(o));
const loadAverage = () => Deno.readTextFileSync("/proc/loadavg").split(" ")[0];

const TESTS: { name: string; path: string; load: Load }[] = [
  { name: "plaintext", path: "/plaintext", load: { connections: 50, depth: 16 } },
  { name: "json", path: "/json", load: { connections: 50, depth: 1 } },
  { name: "db", path: "/db", load: { connections: 50, depth: 1 } },
  { name: "queries (20)", path: "/queries?queries=20", load: { connections: 50, depth: 1 } },
  { name: "fortunes", path: "/fortunes", load: { connections: 50, depth: 1 } },
  { name: "updates (20)", path: "/updates?queries=20", load: { connections: 50, depth: 1 } },
];

/**
 * The entry of the cached `npm:postgres` package, for the Node peer; the
 * Deno peer's imports are cached first, so a fresh machine has it too.
 */
async function postgresJsPath(): Promise<string> {
  const cached = await new Deno.Command(Deno.execPath(), {
    args: ["cache", here("./_worlds.ts")],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!cached.success) throw new Error("deno cache could not fetch npm:postgres");
  const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
  const cache = JSON.parse(new TextDecoder().decode(info.stdout)).npmCache as string;
  const dir = `${cache}/registry.npmjs.org/postgres`;
  const versions = [...Deno.readDirSync(dir)].map((e) => e.name).filter((v) => /^3\./.test(v));
  const newest = versions.sort((a, b) => a.localeCompare(b, "en", { numeric: true })).at(-1);
  if (!newest) throw new Error(`npm:postgres 3.x is not in ${dir}`);
  return `${dir}/${newest}/src/index.js`;
}

function peers(dbUrl: string, postgresJs: string): Peer[] {
  const args = (port: number) => [`--port=${port}`, `--db=${dbUrl}`, `--pool=${POOL}`];
  return [
    {
      name: "Deno.serve + npm:postgres",
      port: 18402,
      cmd: [Deno.execPath(), "run", "-A", here("./deno_server.ts"), ...args(18402)],
    },
    {
      name: "lunet/http + lunet/postgres",
      port: 18401,
      cmd: [Deno.execPath(), "run", "-A", here("./lunet_server.ts"), ...args(18401)],
    },
    {
      name: "node:http + npm:postgres",
      port: 18403,
      cmd: ["node", here("./node_server.mjs"), ...args(18403)],
      env: { POSTGRES_JS: postgresJs },
    },
    {
      name: "lunet/http + npm:postgres",
      port: 18404,
      cmd: [
        Deno.execPath(),
        "run",
        "-A",
        here("./lunet_server.ts"),
        ...args(18404),
        "--driver=npm",
      ],
    },
  ];
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`verification failed: ${what}`);
}

/** Checks every answer of `peer` against the rules before anything is measured. */
async function verify(peer: Peer, dbUrl: string): Promise<void> {
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${peer.port}${path}`);
    const body = await res.text();
    const where = `${peer.name} ${path}`;
    check(res.status === 200, `${where}: status ${res.status}`);
    check(!!res.headers.get("server") && !!res.headers.get("date"), `${where}: Server and Date`);
    return { type: res.headers.get("content-type") ?? "", body };
  };
  const world = (w: any) => Number.isInteger(w?.id) && Number.isInteger(w?.randomNumber);
  let r = await get("/plaintext");
  check(r.body === "Hello, World!" && r.type.startsWith("text/plain"), "plaintext");
  r = await get("/json");
  check(r.body === '{"message":"Hello, World!"}' && r.type === "application/json", "json");
  check(world(JSON.parse((await get("/db")).body)), "db");
  for (const [q, n] of [["20", 20], ["0", 1], ["foo", 1], ["501", 500]] as const) {
    const list = JSON.parse((await get(`/queries?queries=${q}`)).body);
    check(Array.isArray(list) && list.length === n && list.every(world), `queries=${q}`);
  }
  r = await get("/fortunes");
  check(r.type === "text/html; charset=utf-8", "fortunes type");
  check((r.body.match(/<tr>/g) ?? []).length === 14, "fortunes rows");
  check(r.body.includes("<td>11</td><td>&lt;script&gt;alert(&quot;This should not be"), "escape");
  check(r.body.includes("フレームワークのベンチマーク"), "utf-8");
  check(r.body.indexOf("Additional fortune") < r.body.indexOf("After enough"), "sorted");
  const updated = JSON.parse((await get("/updates?queries=20")).body);
  check(Array.isArray(updated) && updated.length === 20 && updated.every(world), "updates");
  const db = await postgres.open({ url: dbUrl, pool: 1 });
  try {
    // An id drawn twice in one request was updated to one of its values:
    // which one the batched UPDATE keeps is up to the database.
    const answered = new Map<number, number[]>();
    for (const w of updated) answered.set(w.id, [...answered.get(w.id) ?? [], w.randomNumber]);
    for (const [id, values] of answered) {
      const row = await db.queryOne<{ randomnumber: number }>(
        "SELECT randomnumber FROM world WHERE id = $1",
        id,
      );
      check(
        row !== null && values.includes(row.randomnumber),
        `${peer.name}: update of world ${id} stored`,
      );
    }
  } finally {
    await db.close();
  }
}

/** The server's CPU time per request, µs, from its CPU use (% of one core) and rate. */
function cpuPerRequest(r: Row): string {
  return ((r.cpu / 100 / r.rps) * 1e6).toFixed(1);
}

/** A latency in ms, or "n/a" where wrk measured none (`Sample.p99` in `_wrk.ts`). */
function latency(ms: number): string {
  return Number.isNaN(ms) ? "n/a" : ms.toFixed(2);
}

function table(results: { test: string; rows: Row[] }[]): string {
  const lines = [
    "| test | server | req/s | × Deno.serve | p50 ms | p99 ms | peak RSS MiB | server CPU % | CPU µs/req |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const { test, rows } of results) {
    for (const r of rows) {
      lines.push(
        `| ${test} | ${r.peer} | ${r.rps.toFixed(0)} | ${r.ratio.toFixed(2)} | ` +
          `${r.p50.toFixed(2)} | ${latency(r.p99)} | ${r.rss.toFixed(0)} | ${r.cpu.toFixed(0)} | ${
            cpuPerRequest(r)
          } |` +
          (r.problems ? ` ⚠ ${r.problems}` : ""),
      );
    }
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const started = new Date();
  const load = loadAverage();
  const dbUrl = await createTfbDatabase(ADMIN, DB_NAME);
  const all = peers(dbUrl, await postgresJsPath());
  const results: { test: string; rows: Row[] }[] = [];
  try {
    for (const p of all) await start(p, "/json");
    for (const p of all) await verify(p, dbUrl);
    console.log(`verified: ${all.map((p) => p.name).join(", ")}\n`);
    const [ref, ...others] = all;
    for (const t of TESTS.filter((t) => picked(t.name))) {
      results.push({
        test: t.name,
        rows: await measure(ref, others, t.path, t.load, seconds, smoke),
      });
      console.error(`done: ${t.name}`);
    }
  } finally {
    for (const p of all) await stop(p);
    await dropDatabase(ADMIN, DB_NAME);
    removeScripts();
  }
  const how = smoke ? "smoke: one 1 s run each" : `warmed, A B B A, ${seconds} s runs`;
  const machine = `2 cores, load average ${load} at the start, ${loadAverage()} at the end`;
  console.log(`# TechEmpower-type tests, wrk -t1 -c50 (plaintext pipelined 16), ${how}\n`);
  console.log(`${machine}\n`);
  console.log(table(results) + "\n");

  const groups: Group[] = results.map(({ test, rows }) => ({
    test,
    bars: rows.map((r) => ({ peer: r.peer, rps: r.rps, ratio: r.ratio })),
  }));
  // The committed chart is only replaced by a full run; a partial one needs --chart.
  const temporary = smoke || (only.length > 0 && !option("chart", ""));
  const chart = temporary
    ? Deno.makeTempFileSync({ suffix: ".svg" })
    : option("chart", here("./results.svg"));
  if (results.length) {
    Deno.writeTextFileSync(
      chart,
      barChart(
        "TechEmpower-type tests: req/s as a multiple of Deno.serve",
        `PostgreSQL, pool 8, wrk -t1 -c50 (plaintext pipelined 16), ${how}; ` +
          `${machine}; ${started.toISOString().slice(0, 10)}`,
        groups,
      ),
    );
    // Formatted as `deno fmt --check` expects of a committed file.
    if (!temporary) {
      await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", chart] }).output();
    }
    console.log(`chart: ${chart}\n`);
  }
  if (temporary) Deno.removeSync(chart);

  const rw = picked("realworld") ? await benchRealWorld(ADMIN, seconds, smoke) : [];
  console.log("# RealWorld example (examples/realworld), wrk -t1 -c50\n");
  console.log(
    "| database | endpoint | req/s | p50 ms | p99 ms | peak RSS MiB | server CPU % | CPU µs/req |",
  );
  console.log("|---|---|---:|---:|---:|---:|---:|---:|");
  for (const { db, endpoint, row: r } of rw) {
    console.log(
      `| ${db} | \`GET ${endpoint}\` | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ` +
        `${latency(r.p99)} | ${r.rss.toFixed(0)} | ${r.cpu.toFixed(0)} | ${cpuPerRequest(r)} |` +
        (r.problems ? ` ⚠ ${r.problems}` : ""),
    );
  }
  const problems = [...results.flatMap((r) => r.rows), ...rw.map((r) => r.row)].filter((r) =>
    r.problems
  );
  if (problems.length) {
    console.error(`\nerrors under load: ${problems.map((r) => r.peer).join(", ")}`);
    Deno.exit(1);
  }
}

await main();

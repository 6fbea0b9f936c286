/**
 * The database side of the TechEmpower-type tests without HTTP: the CPU
 * each request's statements cost through lunet/postgres and straight
 * through `npm:postgres`, in one process (the same JIT, heap and machine
 * moment for both), A B B A after a warm-up. Each of 50 tasks runs
 * requests back to back, as a lunet/http handler would: one random World
 * row (db), 20 of them concurrently (queries), the Fortune table
 * (fortunes), or 20 rows and the batched update (updates); pool 8.
 *
 *     deno run -A bench/web/driver_cpu.ts [--smoke] [--seconds=3] [--pipeline=64] [--only=queries]
 *
 * `--pipeline` sets lunet/postgres's depth (its default otherwise);
 * `--only` runs the tests whose names start with it.
 *
 * @module
 */
import { spawn } from "../../mod.ts";
import { alternate, cpuNow, type Rate } from "../_rates.ts";
import { createTfbDatabase, dropDatabase } from "./_db.ts";
import { randomId } from "./_tfb.ts";
import { lunetWorlds, npmWorlds, type Worlds, worlds } from "./_worlds.ts";

function option(name: string): string | undefined {
  return Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

const smoke = Deno.args.includes("--smoke");
const seconds = smoke ? 0.5 : Number(option("seconds") ?? 3);
const pipeline = option("pipeline") === undefined ? undefined : Number(option("pipeline"));
const only = option("only") ?? "";
const ADMIN = Deno.env.get("LUNET_POSTGRES_URL") ?? "postgres://postgres@127.0.0.1:5432/test";
const DB_NAME = `lunet_driver_cpu_bench_${Deno.pid}`;
const TASKS = 50;

const REQUESTS: Record<string, (db: Worlds) => Promise<unknown>> = {
  db: (db) => db.world(),
  "queries (20)": (db) => worlds(db, 20),
  fortunes: (db) => db.fortunes(),
  "updates (20)": async (db) => {
    const list = await worlds(db, 20);
    for (const w of list) w.randomNumber = randomId();
    await db.update(list);
  },
};

/** Runs `request` from 50 tasks for `seconds`: requests per second and CPU µs per request. */
async function load(request: () => Promise<unknown>): Promise<Rate> {
  let n = 0;
  const t0 = performance.now();
  const c0 = cpuNow();
  const stop = t0 + seconds * 1000;
  const loop = async () => {
    while (performance.now() < stop) {
      await request();
      n++;
    }
  };
  await Promise.all(Array.from({ length: TASKS }, () => spawn(loop)));
  const cpu = cpuNow() - c0;
  return { qps: (n * 1000) / (performance.now() - t0), cpu: cpu / n };
}

const url = await createTfbDatabase(ADMIN, DB_NAME);
const lunet = await lunetWorlds(url, 8, pipeline);
const npm = await npmWorlds(url, 8);
try {
  console.log(
    `lunet/postgres (pipeline ${pipeline ?? "default"}) vs npm:postgres, pool 8, ${TASKS} tasks, ` +
      `${smoke ? "smoke" : `warmed, A B B A, ${seconds} s runs`}; load average ${
        Deno.readTextFileSync("/proc/loadavg").split(" ")[0]
      }\n`,
  );
  console.log("| test | lunet req/s | npm req/s | lunet CPU µs/req | npm CPU µs/req | CPU ratio |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const [name, request] of Object.entries(REQUESTS)) {
    if (!name.startsWith(only)) continue;
    const [a, b] = await alternate(
      () => load(() => request(lunet)),
      () => load(() => request(npm)),
      "abba",
      smoke,
    );
    console.log(
      `| ${name} | ${a.qps.toFixed(0)} | ${b.qps.toFixed(0)} | ${a.cpu.toFixed(0)} | ` +
        `${b.cpu.toFixed(0)} | ${(a.cpu / b.cpu).toFixed(2)} |`,
    );
  }
} finally {
  await lunet.close();
  await npm.close();
  await dropDatabase(ADMIN, DB_NAME);
}

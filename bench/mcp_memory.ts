/**
 * Where the MCP server's idle memory goes: the server as `deno task start`
 * runs it, and start variants that each add one part to a bare
 * `Deno.serve` hello server (a worker isolate, the Node-compatibility
 * modules lunet imports, lunet/http on either socket backend, the MCP
 * module graph, the SQLite writer and a reader). Each variant runs
 * `--rounds` times, alternating the order, in its own process, and is read
 * `--settle` seconds after it announced its port: VmRSS, anonymous memory
 * and threads (`/proc/<pid>/status`, `smaps_rollup`). Prints the medians
 * as a markdown table, with each variant's RSS over the bare server.
 *
 *     deno run -A bench/mcp_memory.ts                  # 3 rounds, read after 5 s
 *     deno run -A bench/mcp_memory.ts --rounds=1 --settle=2
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { type Memory, memoryOf, sleep, startServer, stopServer } from "./_server_proc.ts";

function flag(name: string, fallback: number): number {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.slice(name.length + 3)) : fallback;
}

const ROUNDS = flag("rounds", 3);
const SETTLE_MS = flag("settle", 5) * 1000;
const root = new URL("../", import.meta.url).pathname;
const PERMS = ["--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-ffi"];

const HELLO = `Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: ({ port }) =>
  console.log("on http://127.0.0.1:" + port) }, () => new Response("hello"));`;
const LUNET_HELLO = `import { serve } from "${root}src/http/mod.ts";
const server = await serve(() => "hello", { host: "127.0.0.1", port: 0 });
console.log("on http://127.0.0.1:" + server.addr.port);`;

/** A start variant: the script (or the MCP server when undefined), and its environment. */
interface Variant {
  name: string;
  script?: string;
  env?: Record<string, string>;
  flags?: string[];
}

const VARIANTS: Variant[] = [
  { name: "bare Deno.serve (the floor)", script: HELLO },
  {
    name: "+ one empty Worker",
    script: `new Worker("data:text/javascript,onmessage=()=>{}", { type: "module" });\n${HELLO}`,
  },
  {
    name: "+ node:async_hooks (lunet's task context)",
    script: `import "node:async_hooks";\n${HELLO}`,
  },
  {
    name: "+ node:zlib, node:http, node:https (compression, httpc)",
    script: `import "node:zlib"; import "node:http"; import "node:https";\n${HELLO}`,
  },
  { name: "lunet/http hello, ffi backend", script: LUNET_HELLO },
  { name: "lunet/http hello, deno backend", script: LUNET_HELLO, env: { LUNET_BACKEND: "deno" } },
  {
    name: "lunet/http hello + the MCP server's modules",
    script:
      `import "${root}examples/mcp_sse/server.ts"; import "${root}examples/mcp_sse/catalog.ts";
import "${root}drivers/sqlite.ts";\n${LUNET_HELLO}`,
  },
  {
    name: "bare + lunet/sqlite writer (readers: 0, one query)",
    script: `import * as sqlite from "${root}drivers/sqlite.ts";
const db = await sqlite.open({ path: Deno.env.get("MCP_DB"), readers: 0 });
await db.query("SELECT * FROM notes LIMIT 5");\n${HELLO}`,
  },
  {
    name: "bare + lunet/sqlite writer and one reader (one read)",
    script: `import * as sqlite from "${root}drivers/sqlite.ts";
const db = await sqlite.open({ path: Deno.env.get("MCP_DB"), readers: 1, idleTimeout: 0 });
await db.query("SELECT * FROM notes LIMIT 5");\n${HELLO}`,
  },
  { name: "MCP server (`deno task start`), ffi backend" },
  { name: "MCP server, deno backend", env: { LUNET_BACKEND: "deno" } },
  { name: "MCP server, --v8-flags=--jitless", flags: ["--v8-flags=--jitless"] },
];

/** The arguments of `deno run` in the `start` task, flags first, the script last. */
function startArgs(): string[] {
  const task = JSON.parse(Deno.readTextFileSync(`${root}deno.json`)).tasks.start;
  return (typeof task === "string" ? task : task.command).trim().split(/\s+/).slice(2);
}

async function measure(v: Variant, dir: string, db: string): Promise<Memory> {
  let args = startArgs();
  if (v.script) {
    const file = `${dir}/${VARIANTS.indexOf(v)}.ts`;
    await Deno.writeTextFile(file, v.script);
    args = [...PERMS, file];
  }
  const proc = await startServer(
    Deno.execPath(),
    ["run", ...(v.flags ?? []), ...args],
    { MCP_PORT: "0", MCP_DB: db, NO_COLOR: "1", ...v.env },
    /on http:\/\/127\.0\.0\.1:(\d+)/,
    root,
  );
  try {
    await sleep(SETTLE_MS);
    return memoryOf(proc.child.pid);
  } finally {
    await stopServer(proc);
  }
}

const dir = await Deno.makeTempDir({ prefix: "lunet_mcp_memory_" });
const db = `${dir}/notes.db`;
const seed = new DatabaseSync(db);
seed.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT, body TEXT)");
seed.exec("INSERT INTO notes (title, body) VALUES ('a', 'the body of a note')");
seed.close();
const runs = new Map<Variant, Memory[]>(VARIANTS.map((v) => [v, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of round % 2 ? [...VARIANTS].reverse() : VARIANTS) {
      runs.get(v)!.push(await measure(v, dir, db));
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const floor = median(runs.get(VARIANTS[0])!.map((m) => m.rss));
console.log(`\nIdle memory, median of ${ROUNDS} runs, read ${SETTLE_MS / 1000} s after start\n`);
console.log("| variant | RSS MiB | over bare | anonymous MiB | file-backed MiB | threads |");
console.log("|---|---:|---:|---:|---:|---:|");
for (const [v, ms] of runs) {
  const rss = median(ms.map((m) => m.rss)), anon = median(ms.map((m) => m.anon));
  console.log(
    `| ${v.name} | ${rss.toFixed(1)} | ${(rss - floor).toFixed(1)} | ${anon.toFixed(1)} | ${
      (rss - anon).toFixed(1)
    } | ${median(ms.map((m) => m.threads))} |`,
  );
}

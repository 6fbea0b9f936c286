/**
 * What each scavenge of V8's young generation keeps, on the HTTP server of
 * the `queries (20)` test: `bench/web/lunet_server.ts` under
 * `--v8-flags=--trace-gc-nvp`, driven by `wrk -t1 -c50` (3 s to warm, then
 * measured), per variant: the bytes that survived a scavenge and the bytes
 * it promoted to the old generation (averages over the measured
 * scavenges), and the scavenges' pause per request. Variants run A B B A.
 *
 *     deno run -A bench/web/gc_survival.ts [--seconds=6] [--smoke]
 *
 * The variants: lunet/postgres; `npm:postgres` (`--driver=npm`); and
 * `npm:postgres` with 8 more `npm:postgres` connections open and idle
 * (`--idle=8`), which lunet/postgres's pool of 8 single-connection clients
 * resembles while idle.
 *
 * @module
 */
import { createTfbDatabase, dropDatabase } from "./_db.ts";

function option(name: string): string | undefined {
  return Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

const smoke = Deno.args.includes("--smoke");
const seconds = smoke ? 1 : Number(option("seconds") ?? 6);
const warm = smoke ? 1 : 3;
const ADMIN = Deno.env.get("LUNET_POSTGRES_URL") ?? "postgres://postgres@127.0.0.1:5432/test";
const DB_NAME = `lunet_gc_survival_bench_${Deno.pid}`;
const PORT = 18461;

interface Variant {
  name: string;
  args: string[];
}

const VARIANTS: Variant[] = [
  { name: "lunet/http + lunet/postgres", args: [] },
  { name: "lunet/http + `npm:postgres` (`--driver=npm`)", args: ["--driver=npm"] },
  {
    name: "the same, 8 more `npm:postgres` connections idle (`--idle=8`)",
    args: ["--driver=npm", "--idle=8"],
  },
];

interface Survival {
  survivedKB: number;
  promotedKB: number;
  scavengeUsPerRequest: number;
  rps: number;
}

/** The scavenge records (`"gc":"s"`) a trace line carries, as JSON. */
function scavengeOf(line: string): Record<string, number> | undefined {
  const at = line.indexOf("GC: {");
  if (at === -1 || !line.includes('"gc":"s"')) return undefined;
  return JSON.parse(line.slice(at + 4));
}

async function wrkFor(s: number): Promise<number> {
  const url = `http://127.0.0.1:${PORT}/queries?queries=20`;
  const out = await new Deno.Command("wrk", {
    args: ["-t1", "-c50", `-d${s}s`, url],
    stdout: "piped",
  }).output();
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(new TextDecoder().decode(out.stdout));
  if (!rps) throw new Error("wrk gave no Requests/sec");
  return Number(rps[1]);
}

async function measure(variant: Variant, url: string): Promise<Survival> {
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--trace-gc-nvp",
      new URL("./lunet_server.ts", import.meta.url).pathname,
      `--port=${PORT}`,
      `--db=${url}`,
      "--pool=8",
      ...variant.args,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const scavenges: Record<string, number>[] = [];
  let counting = false;
  const reading = (async () => {
    let rest = "";
    for await (const text of server.stdout.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + text).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        const record = counting ? scavengeOf(line) : undefined;
        if (record) scavenges.push(record);
      }
    }
  })();
  try {
    await waitForPort();
    await wrkFor(warm);
    counting = true;
    const rps = await wrkFor(seconds);
    counting = false;
    const mean = (key: string) => scavenges.reduce((a, r) => a + r[key], 0) / scavenges.length;
    const requests = rps * seconds;
    return {
      survivedKB: mean("new_space_survived") / 1024,
      promotedKB: mean("promoted") / 1024,
      scavengeUsPerRequest: (scavenges.reduce((a, r) => a + r.pause, 0) * 1000) / requests,
      rps,
    };
  } finally {
    server.kill("SIGKILL");
    await server.status;
    await reading;
  }
}

async function waitForPort(): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port: PORT })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`the server did not listen on ${PORT}`);
}

const url = await createTfbDatabase(ADMIN, DB_NAME);
try {
  console.log(
    `queries (20), wrk -t1 -c50, ${warm} s warm, ${seconds} s measured, A B B A; load average ${
      Deno.readTextFileSync("/proc/loadavg").split(" ")[0]
    }\n`,
  );
  console.log("| server | survived KB | promoted KB | scavenge µs/req | req/s |");
  console.log("|---|---:|---:|---:|---:|");
  const order = smoke ? VARIANTS : [...VARIANTS, ...VARIANTS.toReversed()];
  for (const variant of order) {
    const r = await measure(variant, url);
    console.log(
      `| ${variant.name} | ${r.survivedKB.toFixed(0)} | ${r.promotedKB.toFixed(0)} | ${
        r.scavengeUsPerRequest.toFixed(1)
      } | ${r.rps.toFixed(0)} |`,
    );
  }
} finally {
  await dropDatabase(ADMIN, DB_NAME);
}

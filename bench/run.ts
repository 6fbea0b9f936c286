/**
 * Runs the benchmarks: `deno bench` on the `*_bench.ts` microbenchmarks,
 * then every `*_load.ts` side-by-side comparison and the web-framework
 * suite in `web/`, passing the arguments on.
 * With `--smoke` the microbenchmarks are only type-checked and each load
 * script runs for a few seconds (used by `deno task ci`).
 *
 * Run: deno task bench [--smoke] [name-filter…]
 */
const dir = new URL(".", import.meta.url);
const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
const only = Deno.args.filter((a) => !a.startsWith("--"));
const flags = Deno.args.filter((a) => a.startsWith("--"));
const smoke = flags.includes("--smoke");
const picked = (name: string) => !only.length || only.some((o) => name.includes(o));
const failed: string[] = [];

async function run(label: string, args: string[]): Promise<void> {
  console.log(`\n=== ${label}`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    console.error(`=== ${label}: FAILED (exit ${code})`);
    failed.push(label);
  }
}

const micro = files.filter((n) => n.endsWith("_bench.ts") && picked(n)).map((n) =>
  new URL(n, dir).pathname
);
if (micro.length) {
  await run(
    smoke ? "deno check (microbenchmarks)" : "deno bench",
    smoke ? ["check", ...micro] : ["bench", "-A", ...micro],
  );
}
for (const name of files.filter((n) => n.endsWith("_load.ts") && picked(n))) {
  await run(`${name} ${flags.join(" ")}`, ["run", "-A", new URL(name, dir).pathname, ...flags]);
}
if (picked("web")) {
  await run(`web/main.ts ${flags.join(" ")}`, [
    "run",
    "-A",
    new URL("web/main.ts", dir).pathname,
    ...flags,
  ]);
}
if (failed.length) {
  console.error(`\nbench failed: ${failed.join(", ")}`);
  Deno.exit(1);
}

/**
 * Runs every `stress/*_stress.ts` script in turn, passing the arguments on
 * (`--smoke` for a short run), and exits non-zero when any of them fails.
 *
 * Run: deno task stress          (full)
 *      deno task stress --smoke  (a few seconds each, used by `deno task ci`)
 */
const dir = new URL(".", import.meta.url);
const scripts = [...Deno.readDirSync(dir)]
  .map((e) => e.name)
  .filter((name) => name.endsWith("_stress.ts"))
  .sort();
const only = Deno.args.filter((a) => !a.startsWith("--"));
const flags = Deno.args.filter((a) => a.startsWith("--"));
const failed: string[] = [];
for (const name of scripts) {
  if (only.length && !only.some((o) => name.includes(o))) continue;
  console.log(`\n=== ${name} ${flags.join(" ")}`);
  const started = performance.now();
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(name, dir).pathname, ...flags],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`=== ${name}: ${code === 0 ? "ok" : `FAILED (exit ${code})`} in ${secs} s`);
  if (code !== 0) failed.push(name);
}
if (failed.length) {
  console.error(`\nstress failed: ${failed.join(", ")}`);
  Deno.exit(1);
}
console.log("\nstress: all passed");

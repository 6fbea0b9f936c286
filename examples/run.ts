/**
 * Type-checks every example, then smoke-runs each one with `--smoke`: a
 * server example starts, checks itself once over a real connection and
 * exits; a script example runs to its end. Each gets 60 s.
 *
 * Run: deno task examples
 */
const dir = new URL(".", import.meta.url);
const examples: string[] = [];
for (const entry of Deno.readDirSync(dir)) {
  if (entry.isFile && /^\d\d_.*\.ts$/.test(entry.name)) examples.push(entry.name);
  if (entry.isDirectory) {
    try {
      Deno.statSync(new URL(`${entry.name}/main.ts`, dir));
      examples.push(`${entry.name}/main.ts`);
    } catch { /* not an example folder */ }
  }
}
examples.sort();

const paths = examples.map((e) => new URL(e, dir).pathname);
const check = await new Deno.Command(Deno.execPath(), { args: ["check", ...paths] }).output();
if (check.code !== 0) {
  console.error(new TextDecoder().decode(check.stderr));
  Deno.exit(1);
}
console.log(`type-checked ${examples.length} examples`);

const failed: string[] = [];
for (const [i, name] of examples.entries()) {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", paths[i], "--smoke"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const { code, stdout, stderr } = await child.output();
  clearTimeout(timer);
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  if (code === 0) {
    console.log(`ok    ${name} (${secs} s)`);
  } else {
    failed.push(name);
    console.log(`FAIL  ${name} (exit ${code}, ${secs} s)`);
    console.log(new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr));
  }
}
if (failed.length) Deno.exit(1);

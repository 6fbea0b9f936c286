/**
 * One build of lunet/http against another, in one run: the same hello-JSON
 * server (`bench/http_load.ts --role=lunet`) started from this tree and
 * from the tree given with `--base=DIR`, warmed up, then `wrk -t1 -c50`
 * runs alternating A B B A, keep-alive and pipelined (8 requests per write,
 * a wrk Lua script), on the backend named by `LUNET_BACKEND` (ffi when
 * unset). Each row gives both builds' mean req/s, their ratio, and each
 * server's CPU time per request (utime + stime from `/proc/PID/stat` over
 * its runs, divided by the requests wrk counted).
 *
 *     git archive <rev> | tar -x -C /tmp/base
 *     [LUNET_BACKEND=deno] deno run -A bench/build_compare.ts --base=/tmp/base [--seconds=4] [--blocks=2]
 *
 * @module
 */

interface Build {
  name: string;
  dir: string;
  port: number;
  proc: Deno.ChildProcess;
}

interface Sample {
  rps: number;
  requests: number;
  cpuMs: number;
}

const PIPELINE = `
local batch
init = function()
  local req = wrk.format("GET", "/")
  batch = ""
  for i = 1, 8 do batch = batch .. req end
end
request = function() return batch end
`;

function option(name: string, fallback: string): string {
  return Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
}

function cpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of stat(5) (utime, stime) are 12 and 13 after the command name.
  return (Number(fields[11]) + Number(fields[12])) * 1000 / 100;
}

async function start(name: string, dir: string, port: number): Promise<Build> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${dir}/bench/http_load.ts`, "--role=lunet", `--port=${port}`],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return { name, dir, port, proc };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${name} build did not start`);
}

async function wrk(build: Build, seconds: number, script?: string): Promise<Sample> {
  const args = ["-t1", "-c50", `-d${seconds}s`];
  if (script) args.push("-s", script);
  const before = cpuMs(build.proc.pid);
  const out = await new Deno.Command("wrk", {
    args: [...args, `http://127.0.0.1:${build.port}/`],
    stdout: "piped",
  }).output();
  const cpu = cpuMs(build.proc.pid) - before;
  const text = new TextDecoder().decode(out.stdout);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const requests = /(\d+) requests in/.exec(text);
  if (!rps || !requests) throw new Error(`wrk failed: ${text}`);
  if (/Non-2xx|Socket errors/.test(text)) console.error(`wrk on ${build.name}: ${text}`);
  return { rps: Number(rps[1]), requests: Number(requests[1]), cpuMs: cpu };
}

function summary(samples: Sample[]): { rps: number; usPerRequest: number } {
  const requests = samples.reduce((n, s) => n + s.requests, 0);
  const cpu = samples.reduce((n, s) => n + s.cpuMs, 0);
  const rps = samples.reduce((n, s) => n + s.rps, 0) / samples.length;
  return { rps, usPerRequest: cpu * 1000 / requests };
}

async function main(): Promise<void> {
  const base = option("base", "");
  if (!base) throw new Error("usage: deno run -A bench/build_compare.ts --base=DIR");
  const seconds = Number(option("seconds", "4"));
  const blocks = Number(option("blocks", "2"));
  const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(script, PIPELINE);
  const a = await start("base", base, 18301);
  const b = await start("this", here, 18302);
  try {
    console.log(`backend: ${Deno.env.get("LUNET_BACKEND") ?? "ffi"}; base: ${base}\n`);
    console.log("| load | base req/s | this req/s | this ÷ base | base µs/req | this µs/req |");
    console.log("|---|---:|---:|---:|---:|---:|");
    for (const [load, lua] of [["keep-alive", undefined], ["pipelined ×8", script]] as const) {
      await wrk(a, 2, lua);
      await wrk(b, 2, lua);
      const runs: Record<string, Sample[]> = { base: [], this: [] };
      for (let i = 0; i < blocks; i++) {
        for (const build of [a, b, b, a]) runs[build.name].push(await wrk(build, seconds, lua));
      }
      const x = summary(runs.base);
      const y = summary(runs.this);
      console.log(
        `| ${load} | ${x.rps.toFixed(0)} | ${y.rps.toFixed(0)} | ${
          (y.rps / x.rps).toFixed(2)
        }× | ` +
          `${x.usPerRequest.toFixed(2)} | ${y.usPerRequest.toFixed(2)} |`,
      );
    }
  } finally {
    for (const build of [a, b]) {
      build.proc.kill();
      await build.proc.status;
    }
    await Deno.remove(script);
  }
}

await main();

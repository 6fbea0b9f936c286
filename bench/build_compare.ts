/**
 * One build of lunet/http against another, in one run: the same hello-JSON
 * server (`bench/http_load.ts --role=lunet`) started from this tree and
 * from the tree given with `--base=DIR`, warmed up, then `wrk -t1 -c50`
 * runs alternating A B B A, keep-alive and pipelined (8 requests per write,
 * a wrk Lua script), on the backend named by `LUNET_BACKEND` (ffi when
 * unset). With `--app=plaintext` both builds serve the TechEmpower
 * plaintext route of bench/web/lunet_server.ts instead (a router, a
 * `server` field), pipelined 16 requests per write. Each row gives both builds' mean req/s, their ratio, and each
 * server's CPU time per request (utime + stime from `/proc/PID/stat` over
 * its runs, divided by the requests wrk counted).
 *
 *     git archive <rev> | tar -x -C /tmp/base
 *     [LUNET_BACKEND=deno] deno run -A bench/build_compare.ts --base=/tmp/base [--seconds=4] [--blocks=2] [--app=plaintext]
 *
 * @module
 */

interface Build {
  name: string;
  dir: string;
  port: number;
  proc: Deno.ChildProcess;
  /** The server script written for it, removed at the end. */
  file?: string;
}

interface Sample {
  rps: number;
  requests: number;
  cpuMs: number;
}

/** The wrk script sending `depth` requests for `path` per write. */
function pipeline(path: string, depth: number): string {
  return `
local batch
init = function()
  local req = wrk.format("GET", "${path}")
  batch = ""
  for i = 1, ${depth} do batch = batch .. req end
end
request = function() return batch end
`;
}

/** The plaintext server of bench/web/lunet_server.ts, importing the build in `dir`. */
function plaintextServer(dir: string, port: number): string {
  return `
import { Router, serve, text } from "${dir}/src/http/mod.ts";
const SERVER = { server: "lunet" };
const app = new Router().get("/plaintext", () => text("Hello, World!", { headers: SERVER }));
await serve(app, { port: ${port} });
`;
}

function option(name: string, fallback: string): string {
  return Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
}

function cpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of stat(5) (utime, stime) are 12 and 13 after the command name.
  return (Number(fields[11]) + Number(fields[12])) * 1000 / 100;
}

async function start(name: string, dir: string, port: number, app: string): Promise<Build> {
  const args = ["run", "-A", `${dir}/bench/http_load.ts`, "--role=lunet", `--port=${port}`];
  let file: string | undefined;
  if (app === "plaintext") {
    file = await Deno.makeTempFile({ suffix: ".ts" });
    await Deno.writeTextFile(file, plaintextServer(dir, port));
    args.splice(2, 3, `--config=${dir}/deno.json`, file);
  }
  const proc = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return { name, dir, port, proc, file };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${name} build did not start`);
}

async function wrk(build: Build, seconds: number, path: string, script?: string): Promise<Sample> {
  const args = ["-t1", "-c50", `-d${seconds}s`];
  if (script) args.push("-s", script);
  const before = cpuMs(build.proc.pid);
  const out = await new Deno.Command("wrk", {
    args: [...args, `http://127.0.0.1:${build.port}${path}`],
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
  const app = option("app", "json");
  const path = app === "plaintext" ? "/plaintext" : "/";
  const depth = app === "plaintext" ? 16 : 8;
  const script = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(script, pipeline(path, depth));
  const a = await start("base", base, 18301, app);
  const b = await start("this", here, 18302, app);
  try {
    console.log(`backend: ${Deno.env.get("LUNET_BACKEND") ?? "ffi"}; app: ${app}; base: ${base}\n`);
    console.log("| load | base req/s | this req/s | this ÷ base | base µs/req | this µs/req |");
    console.log("|---|---:|---:|---:|---:|---:|");
    for (const [load, lua] of [["keep-alive", undefined], [`pipelined ×${depth}`, script]]) {
      await wrk(a, 2, path, lua);
      await wrk(b, 2, path, lua);
      const runs: Record<string, Sample[]> = { base: [], this: [] };
      for (let i = 0; i < blocks; i++) {
        for (const build of [a, b, b, a]) {
          runs[build.name].push(await wrk(build, seconds, path, lua));
        }
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
      if (build.file) await Deno.remove(build.file);
    }
    await Deno.remove(script);
  }
}

await main();

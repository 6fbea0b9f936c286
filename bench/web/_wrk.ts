/**
 * Runs `wrk` and reads what it reports: requests per second, the 50th and
 * 99th latency percentiles (`--latency`), and whether any answer was not
 * 2xx or any socket failed. Pipelined runs send `depth` requests per write
 * through a Lua script; their latency is that of a whole batch.
 *
 * @module
 */

/** One wrk run. */
export interface Sample {
  /** Requests per second. */
  rps: number;
  /** Median latency, ms. */
  p50: number;
  /**
   * 99th percentile latency, ms; `NaN` when wrk printed 0 above a non-zero
   * median (its histogram keeps no tail for pipelined batches).
   */
  p99: number;
  /** Non-2xx answers and socket errors, as wrk printed them ("" when none). */
  problems: string;
}

/** How to load one endpoint. */
export interface Load {
  /** Connections (`-c`). */
  connections: number;
  /** Requests written at once per connection (1: no pipelining). */
  depth: number;
}

const scripts = new Map<number, string>();

function pipelineScript(depth: number): string {
  let path = scripts.get(depth);
  if (path === undefined) {
    path = Deno.makeTempFileSync({ prefix: "wrk_pipeline_", suffix: ".lua" });
    Deno.writeTextFileSync(
      path,
      `init = function(args)
  local r = {}
  for i = 1, ${depth} do r[i] = wrk.format() end
  req = table.concat(r)
end
request = function() return req end
`,
    );
    scripts.set(depth, path);
  }
  return path;
}

/** Removes the Lua scripts written for pipelined runs. */
export function removeScripts(): void {
  for (const path of scripts.values()) Deno.removeSync(path);
  scripts.clear();
}

function ms(value: string, unit: string): number {
  const n = Number(value);
  return unit === "us" ? n / 1000 : unit === "ms" ? n : unit === "s" ? n * 1000 : n * 60_000;
}

/** Runs `wrk -t1` against `url` for `seconds`. */
export async function wrk(url: string, seconds: number, load: Load): Promise<Sample> {
  const args = ["-t1", `-c${load.connections}`, `-d${seconds}s`, "--latency", "--timeout", "10s"];
  if (load.depth > 1) args.push("-s", pipelineScript(load.depth));
  const out = await new Deno.Command("wrk", { args: [...args, url], stdout: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(text);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(text);
  if (!rps || !p50 || !p99) throw new Error(`wrk ${url}: unexpected output\n${text}`);
  const problems = text.split("\n").filter((l) => /Non-2xx|Socket errors/.test(l)).join("; ");
  const median = ms(p50[1], p50[2]);
  const tail = ms(p99[1], p99[2]);
  return {
    rps: Number(rps[1]),
    p50: median,
    p99: tail < median ? NaN : tail,
    problems: problems.trim(),
  };
}

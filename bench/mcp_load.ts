/**
 * Load comparison: the MCP server (examples/mcp_sse, on lunet/http and
 * lunet/sqlite) against a minimal `Deno.serve` hello server, each in its
 * own process, measured in the same run: resident memory idle and under
 * load, and round trips per second with 50 concurrent clients (MCP:
 * `ping`, then `tools/call notes_list`, over Streamable HTTP with JSON
 * replies; hello: `GET /`). RSS under load is the peak sampled every
 * 100 ms, so a later phase's figure includes the earlier phase's growth.
 *
 *     deno run -A bench/mcp_load.ts            # 10 s per load phase
 *     deno run -A bench/mcp_load.ts --smoke    # about 1 s per phase
 *
 * Prints a markdown table.
 *
 * @module
 */

const smoke = Deno.args.includes("--smoke");
const PHASE_MS = smoke ? 1000 : 10_000;
const CLIENTS = 50;
const root = new URL("../", import.meta.url);

interface Proc {
  child: Deno.ChildProcess;
  port: number;
}

/** Starts a server process and waits for the line announcing its port. */
async function start(args: string[], env: Record<string, string>, portLine: RegExp): Promise<Proc> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env,
    cwd: root.pathname,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited before announcing its port: ${seen}`);
    seen += value;
    const m = seen.match(portLine);
    if (m) {
      // Keep draining stdout so the child never blocks on a full pipe.
      (async () => {
        while (!(await reader.read()).done) { /* discard */ }
      })();
      return { child, port: Number(m[1]) };
    }
  }
}

async function stop(proc: Proc): Promise<void> {
  proc.child.kill("SIGTERM");
  await proc.child.status;
}

/** Resident set size of a process, in MiB. */
function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(status.match(/VmRSS:\s+(\d+) kB/)![1]);
  return kb / 1024;
}

/** Runs `CLIENTS` loops of `once` for `PHASE_MS`; returns round trips/s and peak RSS. */
async function load(pid: number, once: () => Promise<void>): Promise<{ rps: number; rss: number }> {
  const end = Date.now() + PHASE_MS;
  let count = 0;
  let peak = rssMiB(pid);
  const sampler = setInterval(() => peak = Math.max(peak, rssMiB(pid)), 100);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (Date.now() < end) {
      await once();
      count++;
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, rssMiB(pid));
  return { rps: count / seconds, rss: peak };
}

async function mcpClient(base: string): Promise<(body: unknown) => Promise<void>> {
  const headers = { "content-type": "application/json", accept: "application/json" };
  const init = await fetch(`${base}/mcp`, {
    method: "POST",
    headers,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "load", version: "1" },
      },
    }),
  });
  await init.body?.cancel();
  const session = { ...headers, "mcp-session-id": init.headers.get("mcp-session-id")! };
  let id = 1;
  return async (body) => {
    const res = await fetch(`${base}/mcp`, {
      method: "POST",
      headers: session,
      body: JSON.stringify({ jsonrpc: "2.0", id: id++, ...body as object }),
    });
    const reply = await res.json();
    if (res.status !== 200 || reply.error || reply.result?.isError) {
      throw new Error(`MCP call failed: ${res.status} ${JSON.stringify(reply)}`);
    }
  };
}

const settle = () => new Promise((r) => setTimeout(r, smoke ? 300 : 1500));
const dir = await Deno.makeTempDir({ prefix: "lunet_mcp_bench_" });
const rows: string[][] = [];
try {
  const mcp = await start(
    ["run", "-A", "examples/mcp_sse/main.ts"],
    { MCP_PORT: "0", MCP_DB: `${dir}/notes.db`, NO_COLOR: "1" },
    /on http:\/\/127\.0\.0\.1:(\d+)/,
  );
  let mcpIdle: number, call: { rps: number; rss: number }, ping: { rps: number; rss: number };
  try {
    await settle();
    mcpIdle = rssMiB(mcp.child.pid);
    const base = `http://127.0.0.1:${mcp.port}`;
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => mcpClient(base)));
    await clients[0]({
      method: "tools/call",
      params: { name: "notes_add", arguments: { title: "bench", body: "a note to list" } },
    });
    let next = 0;
    ping = await load(mcp.child.pid, () => clients[next++ % CLIENTS]({ method: "ping" }));
    call = await load(mcp.child.pid, () =>
      clients[next++ % CLIENTS]({
        method: "tools/call",
        params: { name: "notes_list", arguments: { limit: 5 } },
      }));
  } finally {
    await stop(mcp);
  }

  const hello = await start(
    [
      "eval",
      `const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: ({ port }) => console.log("port " + port) }, () => new Response("hello"));`,
    ],
    { NO_COLOR: "1" },
    /port (\d+)/,
  );
  let helloIdle: number, get: { rps: number; rss: number };
  try {
    await settle();
    helloIdle = rssMiB(hello.child.pid);
    get = await load(hello.child.pid, async () => {
      const res = await fetch(`http://127.0.0.1:${hello.port}/`);
      await res.text();
    });
  } finally {
    await stop(hello);
  }

  const f = (n: number) => n.toFixed(1);
  const row = (
    name: string,
    idle: number,
    r: { rps: number; rss: number },
  ) => [name, f(idle), f(r.rss), f(r.rps), (r.rps / get.rps).toFixed(2)];
  rows.push(
    row("MCP server, ping", mcpIdle, ping),
    row("MCP server, tools/call notes_list", mcpIdle, call),
    row("Deno.serve hello, GET /", helloIdle, get),
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}

console.log(
  `\n${CLIENTS} concurrent clients, ${PHASE_MS / 1000} s per phase${smoke ? " (smoke)" : ""}\n`,
);
console.log("| server | idle RSS MiB | RSS under load MiB | round trips/s | vs hello |");
console.log("|---|---:|---:|---:|---:|");
for (const row of rows) console.log(`| ${row.join(" | ")} |`);

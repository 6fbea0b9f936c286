/**
 * Runs the official MCP conformance suite
 * (`npm:@modelcontextprotocol/conformance` 0.1.16, every server scenario:
 * `server --suite all`) against the MCP server of `examples/mcp_sse`,
 * started with `MCP_CONFORMANCE=1` (its fixtures beside the real tools) on
 * a free loopback port with a temporary notes file. Fails on any failed
 * check or warning. Needs no standard input; installs Node 22 and the
 * suite on first use (see `_node_tools.ts`).
 *
 *     deno task conformance:mcp
 *
 * @module
 */
import { nodeTools } from "./_node_tools.ts";

const root = new URL("../", import.meta.url).pathname;

interface Check {
  id: string;
  name: string;
  status: string;
  errorMessage?: string;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Starts the server and waits for its "on http://" line. */
async function startServer(port: number, db: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "examples/mcp_sse/main.ts"],
    cwd: root,
    env: { MCP_CONFORMANCE: "1", MCP_PORT: String(port), MCP_DB: db, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    while (!seen.includes(" on http://")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the MCP server exited before listening:\n${seen}`);
      seen += value;
    }
  } finally {
    clearTimeout(timer);
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  return child;
}

async function readChecks(dir: string): Promise<Map<string, Check[]>> {
  const byScenario = new Map<string, Check[]>();
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isDirectory) continue;
    const scenario = entry.name.replace(/^server-/, "").replace(/-\d{4}-\d\d-\d\dT.*$/, "");
    const checks = JSON.parse(await Deno.readTextFile(`${dir}/${entry.name}/checks.json`));
    byScenario.set(scenario, checks);
  }
  return byScenario;
}

const tools = await nodeTools();
const work = await Deno.makeTempDir({ prefix: "lunet_mcp_conformance_" });
const port = freePort();
const server = await startServer(port, `${work}/notes.db`);
let failed = 0, warned = 0, passed = 0, scenarios = 0;
const t0 = performance.now();
try {
  const suite = await new Deno.Command(tools.node, {
    args: [
      `${tools.dir}/node_modules/@modelcontextprotocol/conformance/dist/index.js`,
      "server",
      "--url",
      `http://127.0.0.1:${port}/mcp`,
      "--suite",
      "all",
      "-o",
      `${work}/results`,
    ],
    env: { CI: "true", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const checks = await readChecks(`${work}/results`).catch(() => new Map<string, Check[]>());
  if (checks.size === 0) {
    console.error(new TextDecoder().decode(suite.stdout), new TextDecoder().decode(suite.stderr));
    throw new Error("the conformance suite ran no scenario");
  }
  for (const [scenario, list] of [...checks].sort(([a], [b]) => a.localeCompare(b))) {
    scenarios++;
    const bad = list.filter((c) => c.status === "FAILURE" || c.status === "WARNING");
    const ok = list.filter((c) => c.status === "SUCCESS").length;
    passed += ok;
    failed += list.filter((c) => c.status === "FAILURE").length;
    warned += list.filter((c) => c.status === "WARNING").length;
    console.log(`${bad.length ? "FAIL" : "ok  "}  ${scenario} (${ok} checks)`);
    for (const c of bad) console.log(`      ${c.status} ${c.name}: ${c.errorMessage ?? ""}`);
  }
} finally {
  server.kill("SIGTERM");
  await server.status;
  await Deno.remove(work, { recursive: true });
}
const secs = ((performance.now() - t0) / 1000).toFixed(1);
console.log(
  `conformance: ${scenarios} scenarios, ${passed} checks passed, ${failed} failed, ` +
    `${warned} warnings (${secs} s)`,
);
if (failed || warned) Deno.exit(1);

/**
 * `deno compile` ships the MCP server example as one binary (worker file
 * included). Compiling downloads Deno's base runtime (denort) unless it is
 * cached; where that download is impossible the test is ignored and says
 * why.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);

async function denortAvailable(): Promise<string | undefined> {
  try {
    const res = await fetch("https://dl.deno.land/", {
      method: "HEAD",
      signal: AbortSignal.timeout(3000),
    });
    await res.body?.cancel();
    return undefined;
  } catch (err) {
    return `denort cannot be downloaded from dl.deno.land (${(err as Error).message})`;
  }
}

const skipReason = await denortAvailable();

Deno.test({
  name: `deno compile: MCP server as one binary${skipReason ? ` — ignored: ${skipReason}` : ""}`,
  ignore: skipReason !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const binary = `${dir}/lunet-mcp`;
      const compile = await new Deno.Command(Deno.execPath(), {
        cwd: root.pathname,
        args: [
          "compile",
          "-A",
          "--include",
          "drivers/_sqlite_worker.ts",
          "-o",
          binary,
          "examples/mcp_sse/main.ts",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(compile.code, 0, new TextDecoder().decode(compile.stderr));
      const run = await new Deno.Command(binary, {
        args: ["--smoke"],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(run.stdout);
      assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
      assert.match(stdout, /tools: .*notes_add/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * Child processes of the tests: a command run to its end, and a reference
 * server that prints its port on its first line of output.
 */

const decoder = new TextDecoder();

/** Runs `cmd` with `args` (no stdin) to its end: the exit code and the output as text. */
export async function runCommand(
  cmd: string,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const p = await new Deno.Command(cmd, { args, stdin: "null" }).output();
  return { code: p.code, out: decoder.decode(p.stdout), err: decoder.decode(p.stderr) };
}

/**
 * Starts `node script` and waits for the port it prints on its first line;
 * the caller stops the child. A child that prints no port is killed and
 * the call fails with what it printed.
 */
export async function startPortServer(
  node: string,
  script: string,
  stdin: "null" | "piped",
): Promise<{ child: Deno.ChildProcess; port: number }> {
  const child = new Deno.Command(node, {
    args: [script],
    stdin,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    line += decoder.decode(value);
  }
  await reader.cancel();
  const port = Number(line.trim());
  if (!(port > 0)) {
    child.kill("SIGKILL");
    if (stdin === "piped") await child.stdin.close().catch(() => {});
    await child.status;
    throw new Error(`${script} did not report its port: ${JSON.stringify(line)}`);
  }
  return { child, port };
}

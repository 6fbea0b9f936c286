/**
 * The README's first example, run as written (imports pointed at this
 * tree, the port and the read timeout made small): it echoes, closes a
 * peer that stays idle past the timeout, and keeps serving others.
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);

function firstExample(): string {
  const readme = Deno.readTextFileSync(new URL("README.md", ROOT));
  const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(code, "README.md has a ts example");
  return code;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr as Deno.NetAddr;
  l.close();
  return port;
}

async function connectWhenUp(port: number): Promise<Deno.TcpConn> {
  for (let i = 0; i < 300; i++) {
    try {
      return await Deno.connect({ hostname: "127.0.0.1", port });
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`the README example did not listen on ${port}`);
}

/** Reads until EOF or `ms` elapses; returns what arrived and whether EOF was seen. */
async function readToEnd(conn: Deno.Conn, ms: number): Promise<{ text: string; eof: boolean }> {
  const buf = new Uint8Array(1024);
  let text = "";
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return { text, eof: false };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      conn.read(buf),
      new Promise<"late">((r) => timer = setTimeout(() => r("late"), left)),
    ]);
    clearTimeout(timer);
    if (n === "late") return { text, eof: false };
    if (n === null) return { text, eof: true };
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
}

for (const backend of ["ffi", "deno"]) {
  Deno.test(`README example (${backend} backend): echoes, drops an idle peer, keeps serving`, async () => {
    const port = freePort();
    const code = firstExample()
      .replace(`"@lunet/lunet/socket"`, JSON.stringify(new URL("src/socket.ts", ROOT).href))
      .replace(`"@lunet/lunet"`, JSON.stringify(new URL("mod.ts", ROOT).href))
      .replace("8080", String(port))
      .replace("30_000", "300");
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    await Deno.writeTextFile(file, code);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", file],
      env: { LUNET_BACKEND: backend },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const idle = await connectWhenUp(port);
      await idle.write(new TextEncoder().encode("ping"));
      const first = await readToEnd(idle, 200);
      assert.equal(first.text, "ping");
      // Idle past the read timeout: the server closes this peer.
      const rest = await readToEnd(idle, 3_000);
      assert.ok(rest.eof, "an idle peer is closed once its read times out");
      idle.close();
      // The server still serves a new peer.
      const next = await connectWhenUp(port);
      await next.write(new TextEncoder().encode("again"));
      assert.equal((await readToEnd(next, 200)).text, "again");
      next.close();
    } finally {
      child.kill();
      const out = await child.output();
      await Deno.remove(file);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(stderr.includes("TimeoutError"), false, `no error reported:\n${stderr}`);
    }
  });
}

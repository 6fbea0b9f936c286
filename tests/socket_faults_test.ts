/**
 * Faults a server meets in production, each in a child process so that a
 * low `ulimit -n` cannot disturb the test runner: running out of file
 * descriptors while clients keep connecting.
 */
import { deepEqual as assertEquals, ok as assert } from "node:assert/strict";
import { sleep } from "../mod.ts";
import { type Conn, connect } from "../src/socket.ts";
import { noLeaks } from "./leak.ts";

const FIXTURE = new URL("./fixtures/fd_exhaustion_child.ts", import.meta.url).pathname;
const text = new TextDecoder();
// Low enough to run out after a few dozen connections, high enough for the
// runtime itself to start.
const FD_LIMIT = 64;
const HELD = 120;

interface Child {
  process: Deno.ChildProcess;
  port: number;
  stdout: Promise<string>;
  stderr: Promise<string>;
}

// Starts the fixture in `mode` under `ulimit -n limit`; resolves once it
// printed its port (for the server modes).
async function start(mode: string, limit = FD_LIMIT): Promise<Child> {
  const process = new Deno.Command("bash", {
    args: ["-c", `ulimit -n ${limit}; exec "$0" run -A "$1" "$2"`, Deno.execPath(), FIXTURE, mode],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    // A background update check would load certificates and set up
    // signals while no descriptor is free.
    env: { DENO_NO_UPDATE_CHECK: "1" },
  }).spawn();
  const stderr = new Response(process.stderr).text();
  const reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!/port \d+\n/.test(out) && mode !== "code") {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  const stdout = (async () => {
    for (let r; !(r = await reader.read()).done;) out += r.value;
    return out;
  })();
  const port = Number(/port (\d+)/.exec(out)?.[1] ?? 0);
  if (mode !== "code" && !port) {
    await process.stdin.close();
    throw new Error(`child did not start: ${await stdout}\n${await stderr}`);
  }
  return { process, port, stdout, stderr };
}

// Stops a server child through its stdin; returns its exit status and stderr.
async function stop(child: Child): Promise<{ code: number; stderr: string }> {
  await child.process.stdin.close();
  const [status, stderr] = await Promise.all([child.process.status, child.stderr, child.stdout]);
  return { code: status.code, stderr };
}

// Fills the child's fd table: opens `HELD` connections and keeps them.
async function exhaust(port: number): Promise<Conn[]> {
  const held: Conn[] = [];
  for (let i = 0; i < HELD; i++) held.push(await connect("127.0.0.1", port, { timeout: 5000 }));
  return held;
}

// Fails when the child has exited, with what it printed.
async function assertAlive(child: Child): Promise<void> {
  const status = await Promise.race([child.process.status, sleep(50)]);
  if (status === undefined) return;
  const [stdout, stderr] = await Promise.all([child.stdout, child.stderr]);
  throw new Error(`the server died while out of descriptors (${status.code}):\n${stdout}${stderr}`);
}

async function readAll(conn: Conn): Promise<string> {
  let out = "";
  for (let chunk; (chunk = await conn.read({ timeout: 5000 })) !== null;) out += text.decode(chunk);
  return out;
}

Deno.test(
  "socket faults: a raw listener's for-await loop keeps accepting after the fd table was full",
  noLeaks(async () => {
    const child = await start("listener");
    const held = await exhaust(child.port);
    // Accepts fail with EMFILE for a while.
    await sleep(1500);
    await assertAlive(child);
    for (const c of held) c.close();
    await sleep(200);
    const conn = await connect("127.0.0.1", child.port, { timeout: 5000 });
    try {
      await conn.write("ping", { timeout: 5000 });
      assertEquals(text.decode((await conn.read({ timeout: 5000 }))!), "ping");
    } finally {
      conn.close();
    }
    const { code, stderr } = await stop(child);
    assertEquals(code, 0, stderr);
    assertEquals(stderr, "");
  }),
);

Deno.test(
  "socket faults: serve answers again after the fd table was full, with a short rate-limited log",
  noLeaks(async () => {
    const child = await start("serve");
    const held = await exhaust(child.port);
    await sleep(2500);
    await assertAlive(child);
    for (const c of held) c.close();
    await sleep(200);
    const conn = await connect("127.0.0.1", child.port, { timeout: 5000 });
    let reply: string;
    try {
      await conn.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", { timeout: 5000 });
      reply = await readAll(conn);
    } finally {
      conn.close();
    }
    assert(reply.startsWith("HTTP/1.1 200"), reply);
    assert(reply.endsWith("ok"), reply);
    const { code, stderr } = await stop(child);
    assertEquals(code, 0, stderr);
    // About one line a second while descriptors are short, each one line.
    const lines = stderr.trim().split("\n");
    assert(lines.length >= 1 && lines.length <= 5, stderr);
    for (const line of lines) {
      assert(/^lunet\/http: accept .*resource_exhausted/.test(line), line);
      assert(line.length < 200, line);
    }
  }),
);

Deno.test(
  "socket faults: a connect that finds the fd table full fails with resource_exhausted",
  noLeaks(async () => {
    const child = await start("code", 32);
    const [status, stdout, stderr] = await Promise.all([
      child.process.status,
      child.stdout,
      child.stderr,
      child.process.stdin.close(),
    ]);
    assertEquals(status.code, 0, stderr);
    const got = JSON.parse(stdout);
    assertEquals(got.code, "resource_exhausted", stdout);
    assert(/^connect 127\.0\.0\.1:\d+: too many open files/.test(got.message), got.message);
  }),
);

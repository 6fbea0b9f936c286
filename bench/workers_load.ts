/**
 * Supervised workers under load:
 *
 * 1. Hello-JSON keep-alive requests/s, `wrk -t2 -c64`, two workers, in
 *    A B C C B A order: (A) `serve({ workers: 2 })` of a base build (the
 *    pool before supervision, unpacked with `git archive <commit> | tar -x
 *    -C <dir>`; `--base=<dir>`), (B) this build's thread workers, (C) this
 *    build's process workers with `requestTimeLimit` (the time-limit
 *    bookkeeping on every request).
 * 2. Recovery: a process worker killed with SIGKILL; the time until its
 *    replacement serves its first request, and until it listens.
 *
 * Run: deno run -A bench/workers_load.ts [--base=/tmp/lunet-base] [--seconds=5] [--rounds=5]
 * With `--smoke`: 1 s runs, one round.
 *
 * Each server is a child `deno run -A bench/workers_load.ts --serve=<mode>`
 * so the supervisor and wrk do not share this process.
 */
const arg = (name: string, fallback: string) =>
  Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback;
const smoke = Deno.args.includes("--smoke");

/** Hello JSON, and the pid of the worker. */
const app = {
  handle: (req: { path: string }) =>
    req.path === "/pid" ? { pid: Deno.pid } : { message: "Hello, World!" },
};
export default app;

const serveMode = arg("serve", "");
if (import.meta.main && serveMode) {
  // A child: serve with the build at --root, print the port, wait.
  const root = arg("root", new URL("..", import.meta.url).pathname);
  const { serve } = await import(`file://${root}/src/http/mod.ts`);
  const opts: Record<string, unknown> = { workers: 2, port: 0, module: import.meta.url };
  if (serveMode === "process") {
    Object.assign(opts, { isolation: "process", requestTimeLimit: 5000 });
  }
  const server = await serve(opts);
  // SIGTERM drains it (and removes the supervisor's socket directory).
  const { handleShutdownSignals } = await import(`file://${root}/src/signal.ts`);
  handleShutdownSignals({ timeout: 2000 });
  console.log(`port ${server.addr.port}`);
  await server.finished;
} else if (import.meta.main) {
  const seconds = Number(arg("seconds", smoke ? "1" : "5"));
  const rounds = Number(arg("rounds", smoke ? "1" : "5"));
  const base = arg("base", "");
  const here = new URL("..", import.meta.url).pathname;
  const servers: { name: string; root: string; mode: string }[] = [
    ...(base ? [{ name: `base build serve({ workers: 2 })`, root: base, mode: "threads" }] : []),
    { name: "this build, thread workers", root: here, mode: "threads" },
    { name: "this build, process workers + requestTimeLimit", root: here, mode: "process" },
  ];
  const started = await Promise.all(servers.map((s) => start(s.root, s.mode)));
  try {
    for (const s of started) await wrk(s.port, 1); // warm-up
    const results = servers.map(() => [] as number[]);
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? [...servers.keys()] : [...servers.keys()].reverse();
      for (const i of order) results[i].push(await wrk(started[i].port, seconds));
    }
    console.log(
      `\n## Hello-JSON keep-alive, wrk -t2 -c64 -d${seconds}s, 2 workers (${rounds} rounds)\n`,
    );
    console.log("| server | median req/s | min | max |");
    console.log("| ------ | -----------: | --: | --: |");
    for (const [i, s] of servers.entries()) {
      const v = [...results[i]].sort((a, b) => a - b);
      const f = (n: number) => Math.round(n).toLocaleString("en-US");
      console.log(`| ${s.name} | ${f(v[v.length >> 1])} | ${f(v[0])} | ${f(v[v.length - 1])} |`);
    }
    const proc = started[started.length - 1];
    const times = [];
    for (let r = 0; r < (smoke ? 1 : 5); r++) {
      // A worker killed younger than 2 s counts toward a crash loop (and a paused restart).
      await new Promise((res) => setTimeout(res, 2500));
      times.push(await recovery(proc.port));
    }
    console.log(`\n## Recovery after SIGKILL of a process worker (${times.length} kills)\n`);
    console.log("| kill | replacement's first request served (ms) |");
    console.log("| ---- | --------------------------------------: |");
    for (const [i, t] of times.entries()) console.log(`| ${i + 1} | ${t} |`);
  } finally {
    for (const s of started) {
      s.child.kill("SIGTERM");
      await s.child.status;
    }
  }
}

async function start(root: string, mode: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, `--serve=${mode}`, `--root=${root}`],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/port (\d+)/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server (${mode}) ended: ${text}`);
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return { child, port: Number(/port (\d+)/.exec(text)![1]) };
}

async function wrk(port: number, seconds: number): Promise<number> {
  const out = await new Deno.Command("wrk", {
    args: ["-t2", "-c64", `-d${seconds}s`, `http://127.0.0.1:${port}/`],
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (!m) throw new Error(`wrk: ${text}${new TextDecoder().decode(out.stderr)}`);
  return Number(m[1]);
}

async function pid(port: number): Promise<number | undefined> {
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  try {
    const res = await fetch(`http://127.0.0.1:${port}/pid`, {
      client,
      signal: AbortSignal.timeout(500),
    });
    return (await res.json()).pid;
  } catch {
    return undefined;
  } finally {
    client.close();
  }
}

// Kills one worker, then asks on new connections until a pid not seen
// before answers: the time to the replacement's first served request.
async function recovery(port: number): Promise<number> {
  const seen = new Set<number>();
  for (let i = 0; i < 40 && seen.size < 2; i++) {
    const p = await pid(port);
    if (p) seen.add(p);
  }
  const [victim] = seen;
  const killed = performance.now();
  Deno.kill(victim, "SIGKILL");
  for (;;) {
    const p = await pid(port);
    if (p !== undefined && !seen.has(p)) return Math.round(performance.now() - killed);
    if (performance.now() - killed > 10_000) throw new Error("no replacement within 10 s");
  }
}

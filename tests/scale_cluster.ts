/**
 * A scaled-out MCP example on loopback for the scale-out test and its
 * benchmark: a private redis-server, instances of
 * `examples/mcp_sse/main.ts` sharing their sessions on it, and nginx in
 * front of them with `deploy/nginx.conf`. Every process is a child of the
 * caller, stopped by pid.
 */
const ROOT = new URL("../", import.meta.url).pathname;
const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => exists(p)) ?? "nginx";

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** A free loopback TCP port. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Waits until 127.0.0.1:`port` accepts a connection. */
export async function waitPort(port: number, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch (err) {
      if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port}: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A child process with its output in a log file. */
export class Proc {
  readonly child: Deno.ChildProcess;
  readonly log: string;
  #done = false;

  constructor(cmd: string, args: string[], log: string, env: Record<string, string> = {}) {
    this.log = log;
    const quoted = [cmd, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
    // exec: the shell becomes the program, so the pid is the program's.
    this.child = new Deno.Command("sh", {
      args: ["-c", `exec ${quoted} >>'${log}' 2>&1`],
      env,
      cwd: ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.child.status.then(() => this.#done = true);
  }

  /** True while it runs. */
  get running(): boolean {
    return !this.#done;
  }

  /** Sends `signal` (when it still runs) and waits for it to end. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    if (this.running) {
      try {
        this.child.kill(signal);
      } catch { /* ended meanwhile */ }
    }
    await this.child.status;
  }
}

/** The processes of one scaled-out setup. */
export class Cluster {
  readonly dir: string;
  readonly redisPort: number = freePort();
  readonly nginxPort: number = freePort();
  readonly ports: number[];
  redis: Proc | undefined;
  readonly instances: (Proc | undefined)[];
  nginx: Proc | undefined;
  readonly #extraEnv: Record<string, string>;

  /** @param n instances; without `shared` they keep sessions in memory; `env` is added to theirs. */
  constructor(n: number, readonly shared = true, env: Record<string, string> = {}) {
    this.dir = Deno.makeTempDirSync({ prefix: "lunet-scale-" });
    this.ports = Array.from({ length: n }, () => freePort());
    this.instances = new Array(n).fill(undefined);
    this.#extraEnv = env;
  }

  /** The balanced endpoint. */
  get url(): string {
    return `http://127.0.0.1:${this.nginxPort}/mcp`;
  }

  /** Starts Redis (when shared), the instances, then nginx. */
  async start(): Promise<this> {
    if (this.shared) await this.startRedis();
    await Promise.all(this.ports.map((_, i) => this.startInstance(i)));
    await this.#startNginx();
    return this;
  }

  /** Starts the private redis-server (no persistence: a restart forgets everything). */
  async startRedis(): Promise<void> {
    this.redis = new Proc("redis-server", [
      "--bind",
      "127.0.0.1",
      "--port",
      String(this.redisPort),
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      this.dir,
    ], `${this.dir}/redis.log`);
    await waitPort(this.redisPort);
  }

  /** Starts instance `i` on its port. */
  async startInstance(i: number): Promise<void> {
    const env: Record<string, string> = {
      MCP_PORT: String(this.ports[i]),
      MCP_DB: `${this.dir}/notes-${i}.db`,
      MCP_CONFORMANCE: "1",
      ...this.#extraEnv,
    };
    if (this.shared) env.MCP_REDIS_URL = `redis://127.0.0.1:${this.redisPort}`;
    this.instances[i] = new Proc(
      Deno.execPath(),
      ["run", "-A", "examples/mcp_sse/main.ts"],
      `${this.dir}/instance-${i}.log`,
      env,
    );
    await waitPort(this.ports[i], 60_000);
  }

  async #startNginx(): Promise<void> {
    const upstreams = this.ports
      .map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;`)
      .join("\n");
    const conf = Deno.readTextFileSync(`${ROOT}deploy/nginx.conf`)
      .replace(/^(\s*listen) @LISTEN@;$/m, `$1 127.0.0.1:${this.nginxPort};`)
      .replace(/^@UPSTREAMS@$/m, upstreams);
    Deno.mkdirSync(`${this.dir}/tmp`, { recursive: true });
    Deno.writeTextFileSync(`${this.dir}/nginx.conf`, conf);
    this.nginx = new Proc(
      NGINX,
      ["-p", this.dir, "-c", `${this.dir}/nginx.conf`, "-g", "daemon off;"],
      `${this.dir}/nginx.out`,
    );
    await waitPort(this.nginxPort);
  }

  /** The pid of a process, for /proc. */
  pidOf(i: number): number {
    return this.instances[i]!.child.pid;
  }

  /** Stops everything it started, each by pid, and removes its files. */
  async stop(): Promise<void> {
    await this.nginx?.stop();
    await Promise.all(this.instances.map((p) => p?.stop()));
    await this.redis?.stop();
    Deno.removeSync(this.dir, { recursive: true });
  }
}

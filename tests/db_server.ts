/**
 * Test helper: private PostgreSQL and MariaDB server instances, each in a
 * temporary directory on a free loopback port, that a test may kill with
 * SIGKILL and start again on the same port and data. Never touches the
 * shared servers. Run as root, the servers run as the `postgres` / `mysql`
 * users; otherwise as the current user.
 */
import type { Db } from "../drivers/_types.ts";
import { readEnv } from "../src/_env.ts";

/** Which server. */
export type ServerKind = "postgres" | "mysql";

/** A private server instance. */
export interface DbServer {
  readonly kind: ServerKind;
  readonly port: number;
  /** The pid of the running server process (the postmaster, mariadbd). */
  readonly pid: number;
  /** Opens a pool on this server. */
  open(pool: number): Promise<Db>;
  /** SIGKILLs the server process and waits until it has exited. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and data directory. */
  restart(): Promise<void>;
  /** Kills the server if it runs and removes its directory. */
  destroy(): Promise<void>;
}

interface Tools {
  /** Prepares a data directory. */
  init: string[];
  /** Runs the server in the foreground. */
  serve: (port: number) => string[];
  /** The OS user the server runs as when the tests run as root. */
  user: string;
}

const PG_BIN = readEnv("LUNET_PG_BIN") ?? "/usr/lib/postgresql/15/bin";
const MYSQL_BIN = readEnv("LUNET_MARIADB_BIN") ?? "/usr/sbin";
const MYSQL_INSTALL = readEnv("LUNET_MARIADB_INSTALL") ?? "/usr/bin/mariadb-install-db";

function tools(kind: ServerKind, dir: string, asRoot: boolean): Tools {
  const data = `${dir}/data`;
  if (kind === "postgres") {
    return {
      init: [`${PG_BIN}/initdb`, "-D", data, "-U", "postgres", "-A", "trust", "--no-sync"],
      serve: (port) => [
        `${PG_BIN}/postgres`,
        ...["-D", data, "-p", `${port}`, "-k", dir, "-c", "listen_addresses=127.0.0.1"],
        ...["-c", "fsync=off", "-c", "logging_collector=off"],
      ],
      user: "postgres",
    };
  }
  const user = asRoot ? ["--user=mysql"] : [];
  return {
    init: [
      MYSQL_INSTALL,
      "--no-defaults",
      `--datadir=${data}`,
      ...user,
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
    ],
    serve: (port) => [
      `${MYSQL_BIN}/mariadbd`,
      "--no-defaults",
      `--datadir=${data}`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      `--socket=${dir}/mysql.sock`,
      `--pid-file=${dir}/mysql.pid`,
      ...user,
      "--skip-log-bin",
      "--skip-name-resolve",
      "--innodb-buffer-pool-size=8M",
      "--innodb-log-file-size=4M",
    ],
    user: "mysql",
  };
}

/**
 * Why private servers of `kind` cannot be started here (a tool is
 * missing), or `undefined` when they can.
 */
export async function serverMissing(kind: ServerKind): Promise<string | undefined> {
  const needed = kind === "postgres"
    ? [`${PG_BIN}/initdb`, `${PG_BIN}/postgres`]
    : [MYSQL_INSTALL, `${MYSQL_BIN}/mariadbd`];
  for (const path of needed) {
    try {
      await Deno.stat(path);
    } catch {
      return `${path} not found (install ${kind === "postgres" ? "postgresql" : "mariadb-server"})`;
    }
  }
  return undefined;
}

async function userIds(name: string): Promise<{ uid: number; gid: number }> {
  const line = (await Deno.readTextFile("/etc/passwd")).split("\n")
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no user ${name} to run the server as`);
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr as Deno.NetAddr;
  l.close();
  return port;
}

async function accepting(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * True once the PostgreSQL server `pid` reports itself ready in
 * postmaster.pid. The file of a killed server stays behind saying "ready"
 * until its successor rewrites it, so the pid must match.
 */
async function pgReady(dir: string, pid: number): Promise<boolean> {
  try {
    const lines = (await Deno.readTextFile(`${dir}/data/postmaster.pid`)).split("\n");
    return lines[0]?.trim() === String(pid) && lines[7]?.trim() === "ready";
  } catch {
    return false;
  }
}

/**
 * Initializes and starts a private server of `kind`. Throws when it does
 * not come up within 20 s (with its log).
 */
export async function startServer(kind: ServerKind): Promise<DbServer> {
  const asRoot = Deno.uid() === 0;
  const dir = await Deno.makeTempDir({ prefix: `lunet_${kind}_` });
  const ids = asRoot ? await userIds(kind === "postgres" ? "postgres" : "mysql") : undefined;
  const t = tools(kind, dir, asRoot);
  const port = freePort();
  let child: Deno.ChildProcess | undefined;
  let log = "";

  const run = async (argv: string[], what: string) => {
    const out = await new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdout: "piped",
      stderr: "piped",
      ...(kind === "postgres" ? ids : undefined),
    }).output();
    if (!out.success) {
      const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
      throw new Error(`${what} failed: ${text.slice(-2000)}`);
    }
  };

  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c) return;
    try {
      c.kill("SIGKILL");
    } catch { /* already exited */ }
    const [status, text] = await Promise.all([c.status, new Response(c.stderr).text()]);
    log = text.slice(-4000);
    return status;
  };

  const launch = async () => {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const argv = t.serve(port);
      child = new Deno.Command(argv[0], {
        args: argv.slice(1),
        stdin: "null",
        stdout: "null",
        stderr: "piped",
        ...(kind === "postgres" ? ids : undefined),
      }).spawn();
      const exited = child.status.then(() => true);
      for (;;) {
        const gone = await Promise.race([exited, new Promise((r) => setTimeout(r, 50, false))]);
        if (gone || Date.now() > deadline) break;
        if (kind === "postgres" ? await pgReady(dir, child.pid) : await accepting(port)) return;
      }
      // Exited early (e.g. the killed server's backends still hold its
      // shared memory) or too slow: try again until the deadline.
      await stop();
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${kind} on port ${port} did not start within 20 s:\n${log}`);
  };

  try {
    if (ids) await Deno.chown(dir, ids.uid, ids.gid);
    await run(t.init, `${kind} init`);
    await launch();
  } catch (err) {
    await stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }

  return {
    kind,
    port,
    get pid() {
      if (!child) throw new Error(`${kind} on port ${port} is not running`);
      return child.pid;
    },
    async open(pool) {
      const cfg = { host: "127.0.0.1", port, pool, connectTimeout: 2000 };
      return kind === "postgres"
        ? (await import("../drivers/postgres.ts")).open({ ...cfg, user: "postgres" })
        : (await import("../drivers/mysql.ts")).open({ ...cfg, user: "root" });
    },
    async kill() {
      await stop();
    },
    restart: launch,
    async destroy() {
      await stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Test helper: a PostgreSQL cluster of the test's own (initdb in a
 * temporary directory, run as the `postgres` user on a free port of
 * 127.0.0.1), for what the shared server is not set up for: password
 * authentication with each of the server's methods.
 */
import { envFlag } from "../src/_env.ts";
import { noLeaks } from "./leak.ts";

/** A running cluster. */
export interface PgCluster {
  port: number;
  /** The directory of the server's Unix socket (`.s.PGSQL.<port>`). */
  socketDir: string;
  /** Runs SQL as the superuser over the cluster's Unix socket. */
  psql(sql: string): Promise<void>;
  /** Stops the server at once (`pg_ctl -m immediate`: backends are killed, no shutdown messages). */
  kill(): Promise<void>;
  /** Starts the stopped server again on the same port. */
  start(): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/** The server's binaries, or why there are none. */
function clusterBin(): { bin: string } | { missing: string } {
  let dirs: string[] = [];
  try {
    dirs = [...Deno.readDirSync("/usr/lib/postgresql")].map((e) => e.name).sort();
  } catch { /* no server installed */ }
  const bin = dirs.length ? `/usr/lib/postgresql/${dirs.at(-1)}/bin` : "";
  if (!bin) return { missing: "no PostgreSQL server binaries in /usr/lib/postgresql" };
  if (Deno.uid() !== 0) return { missing: "starting a cluster as the postgres user needs root" };
  return { bin };
}

/**
 * A test on a cluster of its own: `fn` gets the server's binaries. Without
 * them the test is ignored, with the reason in its name; in CI it fails.
 */
export function clusterTest(
  name: string,
  fn: (bin: string, ctx: Deno.TestContext) => Promise<void>,
): void {
  const found = clusterBin();
  const missing = "missing" in found ? found.missing : undefined;
  Deno.test({
    name: name + (missing ? ` (ignored: ${missing})` : ""),
    ignore: missing !== undefined && !envFlag("CI"),
    fn: noLeaks(async (ctx) => {
      if (missing) throw new Error(missing);
      await fn((found as { bin: string }).bin, ctx);
    }),
  });
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${text}`);
  return text;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr;
  l.close();
  return port;
}

/**
 * Starts a cluster whose `pg_hba.conf` takes connections from 127.0.0.1
 * as `hba` says (`[type, database, user, method]`, first match wins;
 * Unix-socket connections are trusted), with TLS when `tls` gives the
 * server's certificate and key (PEM files).
 */
export async function startCluster(
  bin: string,
  hba: [string, string, string, string][],
  tls?: { cert: string; key: string },
): Promise<PgCluster> {
  const dir = await Deno.makeTempDir({ prefix: "lunet_pg_" });
  const data = `${dir}/data`;
  const as = (cmd: string, ...args: string[]) =>
    run("runuser", ["-u", "postgres", "--", `${bin}/${cmd}`, ...args]);
  const port = freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off` +
    (tls ? " -c ssl=on" : "");
  const start = () => as("pg_ctl", "-D", data, "-o", options, "-l", `${dir}/log`, "-w", "start");
  let running = false;
  try {
    await run("chown", ["postgres", dir]);
    await as("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync");
    const lines = hba.map(([type, db, user, method]) =>
      `${type} ${db} ${user} 127.0.0.1/32 ${method}`
    );
    if (tls) {
      for (const [name, from] of [["server.crt", tls.cert], ["server.key", tls.key]]) {
        await Deno.copyFile(from, `${data}/${name}`);
        await Deno.chmod(`${data}/${name}`, 0o600);
        await run("chown", ["postgres", `${data}/${name}`]);
      }
    }
    await Deno.writeTextFile(
      `${data}/pg_hba.conf`,
      ["local all all trust", ...lines].join("\n") + "\n",
    );
    await start();
    running = true;
  } catch (err) {
    const log = await Deno.readTextFile(`${dir}/log`).catch(() => "");
    await Deno.remove(dir, { recursive: true });
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  return {
    port,
    socketDir: dir,
    psql: async (sql) => {
      await as(
        "psql",
        "-h",
        dir,
        "-p",
        String(port),
        "-U",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        sql,
      );
    },
    kill: async () => {
      await as("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop");
      running = false;
    },
    start: async () => {
      await start();
      running = true;
    },
    stop: async () => {
      try {
        if (running) await as("pg_ctl", "-D", data, "-m", "fast", "-w", "stop");
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
}

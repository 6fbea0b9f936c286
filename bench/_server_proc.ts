/**
 * What the MCP load and memory scripts share: a server in a child process
 * that announces its port on stdout, and its memory and CPU time read from
 * procfs.
 *
 * @module
 */

/** A server running in a child process. */
export interface ServerProc {
  /** The process. */
  child: Deno.ChildProcess;
  /** The port it announced. */
  port: number;
}

/** Resident memory of a process, from `/proc/<pid>/status` and `smaps_rollup`. */
export interface Memory {
  /** VmRSS, MiB. */
  rss: number;
  /** Anonymous memory (heaps, stacks), MiB; the rest of `rss` is mapped files (the runtime binary's pages). */
  anon: number;
  /** Threads. */
  threads: number;
}

const TICKS = 100; // clock ticks per second of /proc/<pid>/stat (USER_HZ)

/** Starts `cmd args` in `cwd` and waits for the stdout line announcing its port (`portLine`'s group 1). */
export async function startServer(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  portLine: RegExp,
  cwd: string,
): Promise<ServerProc> {
  const child = new Deno.Command(cmd, {
    args,
    env,
    cwd,
    stdin: "null",
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
      (async () => {
        while (!(await reader.read()).done) { /* keep the pipe drained */ }
      })();
      return { child, port: Number(m[1]) };
    }
  }
}

/** Stops the server with SIGTERM and waits for it to exit. */
export async function stopServer(proc: ServerProc): Promise<void> {
  proc.child.kill("SIGTERM");
  await proc.child.status;
}

/** The resident memory and thread count of process `pid`. */
export function memoryOf(pid: number): Memory {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  const mib = (text: string, re: RegExp) => Number(text.match(re)![1]) / 1024;
  return {
    rss: mib(status, /VmRSS:\s+(\d+) kB/),
    anon: mib(rollup, /Anonymous:\s+(\d+) kB/),
    threads: Number(status.match(/Threads:\s+(\d+)/)![1]),
  };
}

/** User + system CPU time of process `pid` (every thread), ms. */
export function cpuMsOf(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

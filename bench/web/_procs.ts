/**
 * The servers under test, each in a process of its own: started, waited
 * for until they answer, measured (peak RSS from `/proc/PID/status`,
 * reset between tests through `clear_refs`), and killed.
 *
 * @module
 */

/** One server process. */
export interface Peer {
  /** Its name in tables and the chart. */
  name: string;
  /** Its port on 127.0.0.1. */
  port: number;
  /** The command and its arguments. */
  cmd: string[];
  /** Extra environment. */
  env?: Record<string, string>;
  /** The running process. */
  proc?: Deno.ChildProcess;
}

/** Starts `peer` and resolves once `GET path` answers 200. */
export async function start(peer: Peer, path: string): Promise<void> {
  peer.proc = new Deno.Command(peer.cmd[0], {
    args: peer.cmd.slice(1),
    env: peer.env,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  for (let i = 0; i < 300; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${peer.port}${path}`);
      await res.body?.cancel();
      if (res.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${peer.name} did not start on port ${peer.port}`);
}

/** Kills `peer` and waits for it to exit. */
export async function stop(peer: Peer): Promise<void> {
  if (!peer.proc) return;
  try {
    peer.proc.kill("SIGKILL");
  } catch { /* already gone */ }
  await peer.proc.status;
  peer.proc = undefined;
}

/** Peak RSS of `peer` since the last {@linkcode resetPeak}, MiB. */
export function peakRss(peer: Peer): number {
  const status = Deno.readTextFileSync(`/proc/${peer.proc!.pid}/status`);
  return Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024;
}

/** Restarts the peak-RSS count of `peer` from its current RSS (Linux `clear_refs` 5). */
export function resetPeak(peer: Peer): void {
  try {
    Deno.writeTextFileSync(`/proc/${peer.proc!.pid}/clear_refs`, "5");
  } catch { /* not permitted here: the peak then covers the whole run */ }
}

/** CPU time `peer` has used so far (user + system), ms. */
export function cpuMs(peer: Peer): number {
  const stat = Deno.readTextFileSync(`/proc/${peer.proc!.pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of stat(5) (utime, stime) are 12 and 13 after the command name.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

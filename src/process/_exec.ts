/**
 * {@linkcode exec}: run a command to completion and collect its output.
 *
 * @module
 */
import { race } from "../_wait.ts";
import { type ExitStatus, type ProcessOptions, spawnProcess } from "./_child.ts";

const decoder = new TextDecoder();

/**
 * Options of {@linkcode exec}.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { exec, type ExecOptions } from "@lunet/lunet/process";
 * const opts: ExecOptions = { stdin: "to sort\nlines\n" };
 * equal((await exec("sort", [], opts)).stdout, "lines\nto sort\n");
 * ```
 */
export interface ExecOptions extends ProcessOptions {
  /** Data written to the child's stdin, which is then closed; without it stdin is empty. */
  stdin?: string | Uint8Array;
}

/**
 * What {@linkcode exec} returns: the exit status and the whole output.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { exec } from "@lunet/lunet/process";
 * const r = await exec("sh", ["-c", "echo out; echo err >&2; exit 3"]);
 * equal(r.code, 3);
 * equal(r.stdout, "out\n");
 * equal(r.stderr, "err\n");
 * equal(r.bytes.stdout.length, 4);
 * ```
 */
export interface ExecResult extends ExitStatus {
  /** Standard output, decoded as UTF-8. */
  stdout: string;
  /** Standard error, decoded as UTF-8. */
  stderr: string;
  /** The raw bytes of both, for binary output. */
  bytes: { stdout: Uint8Array; stderr: Uint8Array };
}

/**
 * Runs `cmd` with `args` to completion and returns its exit status with
 * its output. A non-zero exit is not an error (check `code` or
 * `success`). When the task is cancelled, `opts.timeout`/`deadline` passes
 * or `opts.signal` aborts, the child is terminated and reaped, then
 * `Cancelled` or `TimeoutError` is thrown.
 *
 * @param cmd The program, looked up in `PATH` unless it holds a `/`.
 * @param args Its arguments (default none).
 * @param opts Input for stdin, working directory, environment, process
 * group, kill grace, and the wait's timeout, deadline and abort signal.
 * @returns The exit status, stdout and stderr.
 * @throws {NotFound} `cmd` cannot be found (`"spawn nosuch: not found"`).
 * @throws {TimeoutError} The timeout or deadline passed; the child was killed.
 * @throws {Cancelled} The task was cancelled or `opts.signal` aborted; the child was killed.
 *
 * @example
 * ```ts
 * import { rejects } from "node:assert/strict";
 * import { TimeoutError } from "@lunet/lunet";
 * import { exec } from "@lunet/lunet/process";
 * // sleep is killed when the timeout passes
 * await rejects(exec("sleep", ["10"], { timeout: 50 }), TimeoutError);
 * ```
 */
export async function exec(
  cmd: string,
  args: string[] = [],
  opts?: ExecOptions,
): Promise<ExecResult> {
  const input = opts?.stdin;
  const child = spawnProcess(cmd, args, {
    cwd: opts?.cwd,
    env: opts?.env,
    clearEnv: opts?.clearEnv,
    killGrace: opts?.killGrace,
    processGroup: opts?.processGroup,
    stdin: input === undefined ? "null" : "piped",
  });
  const feed = async () => {
    if (input === undefined) return;
    // A child that exits without reading its input is not an error.
    await child.stdin!.write(input).catch(() => {});
    await child.stdin!.close().catch(() => {});
  };
  try {
    const [, stdout, stderr, status] = await race(
      `exec ${cmd}`,
      Promise.all([feed(), child.stdout!.bytes(), child.stderr!.bytes(), child.status()]),
      opts,
    );
    return {
      ...status,
      stdout: decoder.decode(stdout),
      stderr: decoder.decode(stderr),
      bytes: { stdout, stderr },
    };
  } finally {
    await child.close();
  }
}

/**
 * A running child process: {@linkcode ChildProcess}, started by
 * {@linkcode spawnProcess}, and owned by the task that started it.
 *
 * @module
 */
import { shown } from "../_shown.ts";
import { fromDenoError } from "../errors.ts";
import { current, deadlineOf, race, type WaitOptions } from "../_wait.ts";
import { traceClose, traceOpen } from "../trace.ts";
import { type InputPipe, newInputPipe, newOutputPipe, type OutputPipe } from "./_pipes.ts";

/**
 * How a child ended: Deno's `CommandStatus` (`signal` is the Deno name,
 * `"SIGTERM"`, or `null` when it exited by itself).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { exec, type ExitStatus } from "@lunet/lunet/process";
 * const { success, code, signal }: ExitStatus = await exec("false");
 * deepEqual({ success, code, signal }, { success: false, code: 1, signal: null });
 * ```
 */
export interface ExitStatus {
  /** True when the exit code is 0. */
  success: boolean;
  /** The exit code (128 + the signal number when killed by a signal). */
  code: number;
  /** The signal that killed the child, or `null`. */
  signal: Deno.Signal | null;
}

/**
 * Options shared by {@linkcode spawnProcess} and `exec`. The wait options
 * limit the child's life: when they expire, it is terminated.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { exec, type ProcessOptions } from "@lunet/lunet/process";
 * const opts: ProcessOptions = { cwd: "/", env: { LANG: "C" }, timeout: 10_000 };
 * equal((await exec("sh", ["-c", 'pwd; echo "$LANG"'], opts)).stdout, "/\nC\n");
 * ```
 */
export interface ProcessOptions extends WaitOptions {
  /** Working directory of the child. */
  cwd?: string;
  /** Variables added to (or, with `clearEnv`, replacing) the inherited environment. */
  env?: Record<string, string>;
  /** Start from an empty environment. */
  clearEnv?: boolean;
  /** Milliseconds between SIGTERM and SIGKILL when the child is terminated (default 2000). */
  killGrace?: number;
  /**
   * Run the child in a process group of its own (a new session) and signal
   * the whole group, so that its own children die with it. Such a child no
   * longer receives the terminal's Ctrl-C.
   */
  processGroup?: boolean;
}

/**
 * Options of {@linkcode spawnProcess}: what to do with each stdio stream
 * (`"piped"` by default for stdout and stderr, `"null"` for stdin).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { spawnProcess, type SpawnProcessOptions } from "@lunet/lunet/process";
 * const opts: SpawnProcessOptions = { stdin: "piped", stderr: "null" };
 * await using child = spawnProcess("cat", [], opts);
 * equal(child.stderr, null);
 * await child.stdin!.close();
 * ```
 */
export interface SpawnProcessOptions extends ProcessOptions {
  /** The child's stdin (default `"null"`). */
  stdin?: "piped" | "inherit" | "null";
  /** The child's stdout (default `"piped"`). */
  stdout?: "piped" | "inherit" | "null";
  /** The child's stderr (default `"piped"`). */
  stderr?: "piped" | "inherit" | "null";
}

let makeChild: (
  child: Deno.ChildProcess,
  name: string,
  opts: SpawnProcessOptions | undefined,
) => ChildProcess;

/**
 * A running child process, from {@linkcode spawnProcess}. Await
 * {@linkcode ChildProcess.status} for its exit; {@linkcode ChildProcess.close}
 * (or `await using`) terminates it if needed, releases its pipes and reaps
 * it.
 *
 * @example
 * ```ts
 * import { equal, ok } from "node:assert/strict";
 * import { spawnProcess } from "@lunet/lunet/process";
 * const child = spawnProcess("sleep", ["60"]);
 * ok(child.pid > 0);
 * const status = await child.close(); // terminates and reaps it
 * equal(status.signal, "SIGTERM");
 * ```
 */
export class ChildProcess implements AsyncDisposable {
  /** The process id. */
  readonly pid: number;
  /** Standard input, when spawned with `stdin: "piped"`. */
  readonly stdin: InputPipe | null;
  /** Standard output, when piped (the default). */
  readonly stdout: OutputPipe | null;
  /** Standard error, when piped (the default). */
  readonly stderr: OutputPipe | null;
  #child: Deno.ChildProcess;
  #name: string;
  #group: boolean;
  #grace: number;
  #exited = false;
  #exit: Promise<ExitStatus>;
  #terminating: Promise<ExitStatus> | undefined;

  static {
    makeChild = (child, name, opts) => new ChildProcess(child, name, opts);
  }

  /** @ignore */
  private constructor(
    child: Deno.ChildProcess,
    name: string,
    opts: SpawnProcessOptions | undefined,
  ) {
    this.#child = child;
    this.#name = name;
    this.pid = child.pid;
    this.#group = opts?.processGroup ?? false;
    this.#grace = opts?.killGrace ?? 2000;
    const piped = (mode: string | undefined, fallback: string) => (mode ?? fallback) === "piped";
    this.stdin = piped(opts?.stdin, "null")
      ? newInputPipe(child.stdin, `write stdin of ${name}`)
      : null;
    this.stdout = piped(opts?.stdout, "piped")
      ? newOutputPipe(child.stdout, `read stdout of ${name}`)
      : null;
    this.stderr = piped(opts?.stderr, "piped")
      ? newOutputPipe(child.stderr, `read stderr of ${name}`)
      : null;
    const token = traceOpen("process", `${name} (pid ${this.pid})`);
    const stopLimits = this.#limitLife(opts);
    this.#exit = child.status.then(({ success, code, signal }) => {
      this.#exited = true;
      stopLimits();
      traceClose("process", token);
      return { success, code, signal };
    });
  }

  /** True once the child has exited (and been reaped). */
  get exited(): boolean {
    return this.#exited;
  }

  /**
   * Waits for the child to exit. Giving up early leaves it running.
   *
   * @param opts Timeout, deadline and abort signal of the wait.
   * @returns How it ended.
   * @throws {TimeoutError} The timeout or deadline passed first.
   * @throws {Cancelled} The task was cancelled or `opts.signal` aborted.
   */
  status(opts?: WaitOptions): Promise<ExitStatus> {
    return race(`wait ${this.#name}`, this.#exit, opts);
  }

  /**
   * Sends `signal` to the child — to its whole group with `processGroup`.
   * Does nothing once it has exited.
   *
   * @param signal The signal (default `"SIGTERM"`).
   */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#exited) return;
    try {
      if (this.#group) Deno.kill(-this.pid, signal);
      else this.#child.kill(signal);
    } catch {
      // It exited between the check and the signal.
    }
  }

  /**
   * Terminates the child: SIGTERM, then SIGKILL once the grace period
   * (`killGrace`) has passed, and waits until it is reaped. Not a
   * cancellable wait: SIGKILL bounds it. Calling it again returns the same
   * result.
   *
   * @returns Its exit status.
   */
  terminate(): Promise<ExitStatus> {
    if (this.#exited) return this.#exit;
    this.#terminating ??= (async () => {
      this.kill("SIGTERM");
      // Not a cancellable wait: this is the clean-up that cancellation runs,
      // and SIGKILL bounds it.
      const hard = setTimeout(() => this.kill("SIGKILL"), this.#grace);
      try {
        return await this.#exit;
      } finally {
        clearTimeout(hard);
      }
    })();
    return this.#terminating;
  }

  /**
   * Terminates the child if it still runs, waits until it is reaped, then
   * releases its pipes.
   *
   * @returns Its exit status.
   */
  async close(): Promise<ExitStatus> {
    const status = await this.terminate();
    await Promise.all([this.stdin?.abort(), this.stdout?.cancel(), this.stderr?.cancel()]);
    return status;
  }

  /** Same as {@linkcode ChildProcess.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Terminates the child when its owner task is cancelled or its limits expire. */
  #limitLife(opts: WaitOptions | undefined): () => void {
    const end = () => void this.terminate();
    const signals = [current()?.signal, opts?.signal].filter((s) => s !== undefined);
    for (const s of signals) s.addEventListener("abort", end, { once: true });
    const deadline = deadlineOf(opts);
    const timer = deadline === undefined
      ? undefined
      : setTimeout(end, Math.max(0, deadline - Date.now()));
    if (signals.some((s) => s.aborted)) end();
    return () => {
      for (const s of signals) s.removeEventListener("abort", end);
      clearTimeout(timer);
    };
  }
}

/**
 * Starts `cmd` with `args`. stdout and stderr are piped by default (read
 * them, or they fill up and the child blocks), stdin is `"null"` unless
 * `"piped"`. Close the child — `await using` does it — to release its
 * pipes. The child belongs to the calling task: it is terminated when that
 * task is cancelled, or when `opts.timeout`/`deadline` passes or
 * `opts.signal` aborts.
 *
 * @param cmd The program, looked up in `PATH` unless it holds a `/`.
 * @param args Its arguments (default none).
 * @param opts Working directory, environment, stdio, process group, kill
 * grace, and the limits of the child's life.
 * @returns The running child.
 * @throws {NotFound} `cmd` cannot be found (`"spawn nosuch: not found"`); thrown at once.
 * @throws {TypeError} `cmd` is not a non-empty string, or `args` not an array of strings.
 * @throws {PermissionDenied} `cmd` may not be run.
 *
 * @example Stream a child's output chunk by chunk
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { spawnProcess } from "@lunet/lunet/process";
 * await using child = spawnProcess("sh", ["-c", "echo one; echo two"]);
 * let out = "";
 * for (let chunk; (chunk = await child.stdout!.read()) !== null;) {
 *   out += new TextDecoder().decode(chunk);
 * }
 * equal(out, "one\ntwo\n");
 * equal((await child.status()).code, 0);
 * ```
 */
export function spawnProcess(
  cmd: string,
  args: string[] = [],
  opts?: SpawnProcessOptions,
): ChildProcess {
  if (typeof cmd !== "string" || cmd === "") {
    throw new TypeError(`spawn: the program must be a non-empty string, got ${shown(cmd)}`);
  }
  if (!Array.isArray(args) || args.some((a) => typeof a !== "string")) {
    throw new TypeError(`spawn ${cmd}: args must be an array of strings`);
  }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      cwd: opts?.cwd,
      env: opts?.env,
      clearEnv: opts?.clearEnv,
      stdin: opts?.stdin ?? "null",
      stdout: opts?.stdout ?? "piped",
      stderr: opts?.stderr ?? "piped",
      detached: opts?.processGroup,
    }).spawn();
  } catch (err) {
    throw fromDenoError(err, "spawn", cmd);
  }
  return makeChild(child, cmd, opts);
}

/**
 * The former name of {@linkcode spawnProcess}, which collided with the
 * core's task `spawn`.
 *
 * @deprecated Use {@linkcode spawnProcess}; this alias goes in the next release.
 * @example
 * ```ts
 * import { spawn, spawnProcess } from "@lunet/lunet/process";
 * if (spawn !== spawnProcess) throw new Error("alias");
 * ```
 */
export const spawn: typeof spawnProcess = spawnProcess;

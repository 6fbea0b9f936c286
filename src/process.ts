/**
 * Child processes for tasks, on `Deno.Command`.
 *
 * {@linkcode exec} runs a command to completion and returns its exit status
 * and output; {@linkcode spawn} starts one with streaming stdio. A child
 * belongs to the task that started it: when that task is cancelled — or the
 * child's `timeout`/`deadline` passes, or its `signal` aborts — the child
 * gets SIGTERM, then SIGKILL after a grace period, and is reaped.
 *
 * @example
 * ```ts
 * import { exec } from "@lunet/lunet/process";
 * const { code, stdout } = await exec("echo", ["hello"], { timeout: 5000 });
 * console.log(code, stdout); // 0 "hello\n"
 * ```
 * @module
 */
import { fromDenoError } from "./errors.ts";
import { current, deadlineOf, race, type WaitOptions } from "./_wait.ts";
import { traceClose, traceOpen } from "./trace.ts";
import { concat } from "./bytes.ts";

export type { WaitOptions } from "./_wait.ts";

/**
 * How a child ended: Deno's `CommandStatus` (`signal` is the Deno name,
 * `"SIGTERM"`, or `null` when it exited by itself).
 *
 * @example
 * ```ts
 * import { exec, type ExitStatus } from "@lunet/lunet/process";
 * const status: ExitStatus = await exec("true");
 * console.log(status.success); // true
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
 * Options shared by {@linkcode spawn} and {@linkcode exec}. The wait
 * options limit the child's life: when they expire, it is terminated.
 *
 * @example
 * ```ts
 * import type { ProcessOptions } from "@lunet/lunet/process";
 * const opts: ProcessOptions = { cwd: "/tmp", env: { LANG: "C" }, timeout: 10_000 };
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
 * Options of {@linkcode spawn}: what to do with each stdio stream
 * (`"piped"` by default for stdout and stderr, `"null"` for stdin).
 *
 * @example
 * ```ts
 * import type { SpawnProcessOptions } from "@lunet/lunet/process";
 * const opts: SpawnProcessOptions = { stdin: "piped", stderr: "inherit" };
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

/**
 * Options of {@linkcode exec}.
 *
 * @example
 * ```ts
 * import { exec, type ExecOptions } from "@lunet/lunet/process";
 * const opts: ExecOptions = { stdin: "to sort\nlines\n" };
 * console.log((await exec("sort", [], opts)).stdout);
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
 * import { exec } from "@lunet/lunet/process";
 * const r = await exec("sh", ["-c", "echo out; echo err >&2; exit 3"]);
 * console.log(r.code, r.stdout, r.stderr); // 3 "out\n" "err\n"
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

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A child's stdout or stderr. One reader at a time; a read that is
 * cancelled or times out keeps its request, and the next read returns its
 * bytes.
 *
 * @example
 * ```ts
 * import { spawn } from "@lunet/lunet/process";
 * await using child = spawn("printf", ["a\nb\n"]);
 * console.log(await child.stdout!.text()); // "a\nb\n"
 * ```
 */
export class OutputPipe {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  #what: string;
  #ended = false;

  /** @internal made by {@linkcode spawn} */
  constructor(stream: ReadableStream<Uint8Array>, what: string) {
    this.#reader = stream.getReader();
    this.#what = what;
  }

  /** The next chunk the child wrote, or `null` once it closed the stream. */
  async read(opts?: WaitOptions): Promise<Uint8Array | null> {
    if (this.#ended) return null;
    // A read that is given up stays in #pending for the next call; a failed one is dropped.
    const pending = this.#pending ??= this.#reader.read().catch((err) => {
      this.#pending = undefined;
      throw err;
    });
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await race(this.#what, pending, opts);
    } catch (err) {
      throw fromDenoError(err, this.#what, "");
    }
    this.#pending = undefined;
    if (result.done) {
      this.#ended = true;
      return null;
    }
    return result.value;
  }

  /** Everything until the child closes the stream. */
  async bytes(opts?: WaitOptions): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for (let chunk; (chunk = await this.read(opts)) !== null;) parts.push(chunk);
    return concat(parts);
  }

  /** Everything until the child closes the stream, decoded as UTF-8. */
  async text(opts?: WaitOptions): Promise<string> {
    return decoder.decode(await this.bytes(opts));
  }

  /** Stops reading and releases the pipe; later reads return `null`. */
  async cancel(): Promise<void> {
    this.#ended = true;
    await this.#reader.cancel().catch(() => {});
  }
}

/**
 * A child's stdin.
 *
 * @example
 * ```ts
 * import { spawn } from "@lunet/lunet/process";
 * await using child = spawn("cat", [], { stdin: "piped" });
 * await child.stdin!.write("echo");
 * await child.stdin!.close();
 * console.log(await child.stdout!.text()); // "echo"
 * ```
 */
export class InputPipe {
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #what: string;

  /** @internal made by {@linkcode spawn} */
  constructor(stream: WritableStream<Uint8Array>, what: string) {
    this.#writer = stream.getWriter();
    this.#what = what;
  }

  /**
   * Writes all of `data` (a string as UTF-8); returns the number of bytes.
   * A write that gives up early still completes in order.
   */
  async write(data: Uint8Array | string, opts?: WaitOptions): Promise<number> {
    const buf = typeof data === "string" ? encoder.encode(data) : data;
    try {
      await race(this.#what, this.#writer.write(buf), opts);
    } catch (err) {
      throw fromDenoError(err, this.#what, "");
    }
    return buf.length;
  }

  /** Closes stdin once what was written has been delivered (the child sees EOF). */
  async close(opts?: WaitOptions): Promise<void> {
    try {
      await race(this.#what, this.#writer.close(), opts);
    } catch (err) {
      throw fromDenoError(err, this.#what, "");
    }
  }

  /** Closes stdin at once, dropping what is not yet delivered. */
  async abort(): Promise<void> {
    await this.#writer.abort().catch(() => {});
  }
}

/**
 * A running child process, from {@linkcode spawn}. Await
 * {@linkcode ChildProcess.status} for its exit; {@linkcode ChildProcess.close}
 * (or `await using`) terminates it if needed, releases its pipes and reaps
 * it.
 *
 * @example
 * ```ts
 * import { spawn } from "@lunet/lunet/process";
 * await using child = spawn("sleep", ["60"]);
 * console.log(child.pid > 0); // true
 * // leaving the block terminates and reaps it
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

  /** @internal use {@linkcode spawn} */
  constructor(child: Deno.ChildProcess, name: string, opts: SpawnProcessOptions | undefined) {
    this.#child = child;
    this.#name = name;
    this.pid = child.pid;
    this.#group = opts?.processGroup ?? false;
    this.#grace = opts?.killGrace ?? 2000;
    const piped = (mode: string | undefined, fallback: string) => (mode ?? fallback) === "piped";
    this.stdin = piped(opts?.stdin, "null")
      ? new InputPipe(child.stdin, `write stdin of ${name}`)
      : null;
    this.stdout = piped(opts?.stdout, "piped")
      ? new OutputPipe(child.stdout, `read stdout of ${name}`)
      : null;
    this.stderr = piped(opts?.stderr, "piped")
      ? new OutputPipe(child.stderr, `read stderr of ${name}`)
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

  /** Waits for the child to exit. Giving up early leaves it running. */
  status(opts?: WaitOptions): Promise<ExitStatus> {
    return race(`wait ${this.#name}`, this.#exit, opts);
  }

  /**
   * Sends `signal` (default SIGTERM) to the child — to its whole group with
   * `processGroup`. Does nothing once it has exited.
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
   * Terminates the child: SIGTERM, then SIGKILL once the grace period has
   * passed, and waits until it is reaped. Returns its exit status.
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

  /** Terminates the child if it still runs, releases its pipes, and reaps it. */
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
 * `"piped"`. Throws at once when the command cannot be started
 * (`NotFound`: `"spawn nosuch: not found"`). Close the child — `await
 * using` does it — to release its pipes.
 *
 * @example Stream a child's output line by line
 * ```ts
 * import { spawn } from "@lunet/lunet/process";
 * await using child = spawn("sh", ["-c", "echo one; echo two"]);
 * for (let chunk; (chunk = await child.stdout!.read()) !== null;) {
 *   console.log(new TextDecoder().decode(chunk));
 * }
 * console.log((await child.status()).code); // 0
 * ```
 */
export function spawn(cmd: string, args: string[] = [], opts?: SpawnProcessOptions): ChildProcess {
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
  return new ChildProcess(child, cmd, opts);
}

/**
 * Runs `cmd` with `args` to completion and returns its exit status with
 * its output. A non-zero exit is not an error (check `code` or
 * `success`). When the task is cancelled or `timeout`/`deadline` passes,
 * the child is terminated and reaped, then `Cancelled` or `TimeoutError`
 * is thrown.
 *
 * @example
 * ```ts
 * import { TimeoutError } from "@lunet/lunet";
 * import { exec } from "@lunet/lunet/process";
 * try {
 *   await exec("sleep", ["10"], { timeout: 50 });
 * } catch (err) {
 *   console.log(err instanceof TimeoutError); // true: sleep was killed
 * }
 * ```
 */
export async function exec(
  cmd: string,
  args: string[] = [],
  opts?: ExecOptions,
): Promise<ExecResult> {
  const input = opts?.stdin;
  const child = spawn(cmd, args, {
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

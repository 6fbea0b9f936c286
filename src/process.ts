/**
 * Child processes for tasks, on `Deno.Command`.
 *
 * {@linkcode exec} runs a command to completion and returns its exit status
 * and output; {@linkcode spawnProcess} starts one with streaming stdio (its
 * former name `spawn` is a deprecated alias: the core's `spawn` starts
 * tasks). A child belongs to the task that started it: when that task is
 * cancelled — or the child's `timeout`/`deadline` passes, or its `signal`
 * aborts — the child gets SIGTERM, then SIGKILL after a grace period, and
 * is reaped.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { exec } from "@lunet/lunet/process";
 * const { code, stdout } = await exec("echo", ["hello"], { timeout: 5000 });
 * equal(code, 0);
 * equal(stdout, "hello\n");
 * ```
 * @module
 */
export type { WaitOptions } from "./_wait.ts";
export { InputPipe, OutputPipe } from "./process/_pipes.ts";
export {
  ChildProcess,
  type ExitStatus,
  type ProcessOptions,
  spawn,
  spawnProcess,
  type SpawnProcessOptions,
} from "./process/_child.ts";
export { exec, type ExecOptions, type ExecResult } from "./process/_exec.ts";

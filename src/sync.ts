/**
 * Synchronisation between tasks: {@linkcode Channel}, {@linkcode Mutex},
 * {@linkcode Semaphore}, {@linkcode WaitGroup} and {@linkcode Flag}. Every
 * wait is cancellable with its task and accepts `{ timeout, deadline,
 * signal }`.
 *
 * @example A worker draining a job queue
 * ```ts
 * import { Channel, spawn } from "@lunet/lunet";
 * import { deepStrictEqual } from "node:assert/strict";
 * const jobs = new Channel<string>(8);
 * const done: string[] = [];
 * const worker = spawn(async () => {
 *   for await (const job of jobs) done.push(job);
 * });
 * await jobs.send("a");
 * await jobs.send("b");
 * jobs.close();
 * await worker;
 * deepStrictEqual(done, ["a", "b"]);
 * ```
 * @module
 */
export { Channel } from "./sync/_channel.ts";
export { Semaphore } from "./sync/_semaphore.ts";
export { Mutex } from "./sync/_mutex.ts";
export { WaitGroup } from "./sync/_wait_group.ts";
export { Event, Flag } from "./sync/_flag.ts";

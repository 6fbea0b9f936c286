/**
 * lunet: coroutine-style networking for Deno. Spawn tasks and write
 * sequential code — accept, read, write, sleep, query — while every wait
 * yields to the event loop and honours cancellation and deadlines.
 *
 * This entry point holds the core: tasks, scopes, deadlines, sync
 * primitives, errors and tracing. It loads no npm package.
 *
 * @example A producer and a consumer in one scope
 * ```ts
 * import { Channel, scope, spawn } from "@lunet/lunet";
 * import { deepStrictEqual } from "node:assert/strict";
 * const ch = new Channel<number>();
 * const got: number[] = [];
 * await scope(async () => {
 *   spawn(async () => {
 *     for (let i = 0; i < 3; i++) await ch.send(i);
 *     ch.close();
 *   });
 *   for await (const n of ch) got.push(n);
 * });
 * deepStrictEqual(got, [0, 1, 2]);
 * ```
 * @module
 */
export * from "./src/errors.ts";
export { spawn, type SpawnOptions, Task } from "./src/task.ts";
export { bindTask, scope, shield, withDeadline, withTimeout } from "./src/scope.ts";
export * from "./src/sleep.ts";
export { checkCancelled, current, type WaitOptions } from "./src/_wait.ts";
export * from "./src/sync.ts";
export { trace, type TraceEntry, type TraceSnapshot } from "./src/trace.ts";

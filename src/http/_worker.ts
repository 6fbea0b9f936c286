/**
 * The entry point of a thread worker of `serve({ workers })` (see
 * ./_supervisor.ts): its runtime talks to the supervisor by `postMessage`.
 *
 * @module
 */
import { WorkerRuntime } from "./_worker_runtime.ts";
import type { FromWorker, ToWorker } from "./_worker_protocol.ts";

/** The parts of the worker global scope used here. */
interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(msg: FromWorker): void;
}

const scope = globalThis as unknown as WorkerScope;
const rt = new WorkerRuntime("thread", (msg) => scope.postMessage(msg));
scope.onmessage = (e) => void rt.receive(e.data);

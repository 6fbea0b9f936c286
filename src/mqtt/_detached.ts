/**
 * Runs work outside the caller's task: a client's background loop, and
 * writes to its connection, must not be cut by the cancellation of
 * whichever task happened to call into the client (a write cut part-way
 * would close the connection).
 *
 * @module
 */
import { storage } from "../_wait.ts";

/** Calls `fn` with no current task; what it starts stays outside any task. */
export function outsideTask<R>(fn: () => R): R {
  // deno-lint-ignore no-explicit-any
  return storage.run(undefined as any, fn, undefined);
}

/**
 * Test helper: wraps a test body and fails when it leaves a lunet task or
 * handle alive (by the always-on trace counters). Deno's own sanitizers
 * catch leaked ops, resources and timers on top of this.
 */
import assert from "node:assert/strict";
import { trace } from "../mod.ts";

/** Runs `fn` and asserts that the live task/handle counts return to where they were. */
export function noLeaks(
  fn: (t: Deno.TestContext) => Promise<void> | void,
): (t: Deno.TestContext) => Promise<void> {
  return async (t) => {
    const before = trace.snapshot().counts;
    await fn(t);
    // Let closing handles and finishing tasks settle.
    for (let i = 0; i < 50 && !same(before, trace.snapshot().counts); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(trace.snapshot().counts, before, trace.report());
  };
}

function same(a: Record<string, number>, b: Record<string, number>): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Task and handle tracking. Live counts per kind are always kept (an integer
 * add per open and close); with `LUNET_TRACE=1` each live task and handle
 * also records its creation site, and a leak report naming what is still
 * alive is printed when the process exits.
 *
 * @example Assert that a test leaves nothing behind
 * ```ts
 * import { spawn, sleep, trace } from "@lunet/lunet";
 * const before = trace.snapshot();
 * await spawn(() => sleep(1));
 * const after = trace.snapshot();
 * if (after.total !== before.total) throw new Error(trace.report());
 * ```
 * @module
 */
import { envFlag } from "./_env.ts";

/**
 * One live task or handle, as recorded with tracing on.
 *
 * @example
 * ```ts
 * import { trace, type TraceEntry } from "@lunet/lunet";
 * const entries: TraceEntry[] = trace.snapshot().entries;
 * if (!trace.enabled && entries.length !== 0) throw new Error("entries need LUNET_TRACE=1");
 * ```
 */
export interface TraceEntry {
  /** Kind: `"task"`, `"tcp"`, `"listener"`, `"udp"`, `"file"`, `"worker"`, … */
  kind: string;
  /** What it is: a task name or an address. */
  label: string;
  /** Creation stack (tracing on only). */
  stack: string;
}

/**
 * Live counts, and with tracing on the live entries themselves.
 *
 * @example
 * ```ts
 * import { spawn, sleep, trace, type TraceSnapshot } from "@lunet/lunet";
 * const task = spawn(() => sleep(5));
 * const snap: TraceSnapshot = trace.snapshot();
 * await task;
 * if (!(snap.counts.task >= 1) || snap.total < snap.counts.task) throw new Error("counted");
 * ```
 */
export interface TraceSnapshot {
  /** Live count per kind; kinds at zero are left out. */
  counts: Record<string, number>;
  /** Sum of all live counts. */
  total: number;
  /** Live entries with their creation sites (empty unless tracing is on). */
  entries: TraceEntry[];
}

const counts = new Map<string, number>();
/** Live entries; the creation site is kept as an Error and formatted only when reported. */
const live = new Map<number, { kind: string; label: string; site: Error }>();
let nextToken = 1;
const enabled = envFlag("LUNET_TRACE");

/**
 * Records that a task or handle of `kind` came alive. Returns a token to
 * pass to {@linkcode traceClose}.
 *
 * @param kind What it is: `"task"`, `"tcp"`, …
 * @param label Which one: a task name or an address.
 * @returns The token of this entry (0 with tracing off).
 *
 * @example
 * ```ts
 * import { trace } from "@lunet/lunet";
 * import { traceClose, traceOpen } from "./trace.ts";
 * const token = traceOpen("demo", "127.0.0.1:8080");
 * if (trace.snapshot().counts.demo !== 1) throw new Error("open");
 * traceClose("demo", token);
 * if (trace.snapshot().counts.demo !== undefined) throw new Error("closed");
 * ```
 */
export function traceOpen(kind: string, label: string): number {
  counts.set(kind, (counts.get(kind) ?? 0) + 1);
  if (!enabled) return 0;
  const token = nextToken++;
  live.set(token, { kind, label, site: new Error() });
  return token;
}

/**
 * Records that the task or handle behind `token` is gone. Call it exactly
 * once per {@linkcode traceOpen}.
 *
 * @param kind The kind given to {@linkcode traceOpen}.
 * @param token The token it returned.
 *
 * @example
 * ```ts
 * import { trace } from "@lunet/lunet";
 * import { traceClose, traceOpen } from "./trace.ts";
 * const before = trace.snapshot().total;
 * traceClose("demo", traceOpen("demo", "127.0.0.1:8080"));
 * if (trace.snapshot().total !== before) throw new Error("balanced");
 * ```
 */
export function traceClose(kind: string, token: number): void {
  counts.set(kind, (counts.get(kind) ?? 1) - 1);
  if (token) live.delete(token);
}

/**
 * Tracing entry points for tests and diagnostics.
 *
 * @example
 * ```ts
 * import { trace } from "@lunet/lunet";
 * const snap = trace.snapshot();
 * if (snap.total === 0 && trace.report() !== "") throw new Error("nothing alive, nothing to say");
 * if (typeof trace.enabled !== "boolean") throw new Error("enabled");
 * ```
 */
export const trace: {
  /** Whether `LUNET_TRACE=1` was set at start-up. */
  readonly enabled: boolean;
  /** The live counts (and entries, with tracing on) right now. */
  snapshot(): TraceSnapshot;
  /** A human-readable report of what is alive, or `""` when nothing is. */
  report(): string;
} = {
  enabled,
  snapshot(): TraceSnapshot {
    const out: Record<string, number> = {};
    let total = 0;
    for (const [kind, n] of counts) {
      if (n !== 0) {
        out[kind] = n;
        total += n;
      }
    }
    const entries = [...live.values()].map(({ kind, label, site }) => ({
      kind,
      label,
      stack: site.stack?.split("\n").slice(3).join("\n") ?? "",
    }));
    return { counts: out, total, entries };
  },
  report(): string {
    const snap = trace.snapshot();
    if (snap.total === 0) return "";
    const lines = [`lunet: ${snap.total} still alive: ${JSON.stringify(snap.counts)}`];
    for (const e of snap.entries) lines.push(`- ${e.kind} ${e.label}\n${e.stack}`);
    return lines.join("\n");
  },
};

if (enabled) {
  globalThis.addEventListener("unload", () => {
    const text = trace.report();
    if (text) console.error(text);
  });
}

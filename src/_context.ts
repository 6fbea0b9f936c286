/**
 * The current-task slot, carried across awaits by the runtime's async
 * context: the continuation-preserved data that AsyncLocalStorage is built
 * on. Deno's AsyncLocalStorage pays for a WeakMap entry and a copied
 * mapping on every `run`, which would cost each spawn several hundred
 * nanoseconds; where the runtime exposes its async-context mapping, the
 * task is stored in that mapping directly under a private symbol (other
 * AsyncLocalStorage instances keep working: their entries are carried
 * along). Elsewhere, or with `LUNET_CONTEXT=storage` (which CI uses to run
 * the task and HTTP suites a second time on it), everything goes through
 * AsyncLocalStorage; only then is `node:async_hooks` (≈ 1 MiB) loaded.
 *
 * @module
 */
import type { AsyncLocalStorage as Storage } from "node:async_hooks";
import { readEnv } from "./_env.ts";

type Mapping = Record<PropertyKey, unknown> | undefined;
interface AsyncContextCore {
  getAsyncContext(): Mapping;
  setAsyncContext(mapping: Mapping): void;
}

/**
 * Runs `fn(arg)` with `value` as the current value; reads it back.
 *
 * @example
 * ```ts
 * import { contextSlot, type ContextSlot } from "./_context.ts";
 * const slot: ContextSlot<number> = contextSlot<number>();
 * if (slot.run(7, (x: number) => slot.get()! * x, 6) !== 42) throw new Error("run");
 * if (slot.get() !== undefined) throw new Error("restored after run");
 * ```
 */
export interface ContextSlot<V> {
  /** Runs `fn(arg)` with `value` current across its awaits. */
  run<A, R>(value: V, fn: (arg: A) => R, arg: A): R;
  /** The current value, or `undefined`. */
  get(): V | undefined;
}

function runtimeCore(): AsyncContextCore | undefined {
  // deno-lint-ignore no-explicit-any
  const core = (Deno as any)[(Deno as any).internal]?.core;
  const ok = typeof core?.getAsyncContext === "function" &&
    typeof core?.setAsyncContext === "function";
  return ok ? core : undefined;
}

function mappingSlot<V>(core: AsyncContextCore): ContextSlot<V> {
  const key = Symbol("lunet.current");
  // A mapping that holds only this slot's value: a plain class instance is
  // much cheaper to create than a copied dictionary. Other variables'
  // lookups miss it as they miss an empty mapping, and their own entries
  // copy it like any mapping.
  class Only {
    [key]: V;
    constructor(value: V) {
      this[key] = value;
    }
  }
  return {
    run<A, R>(value: V, fn: (arg: A) => R, arg: A): R {
      const previous = core.getAsyncContext();
      core.setAsyncContext(
        previous === undefined || previous instanceof Only
          ? new Only(value) as unknown as Mapping
          : { __proto__: null, ...previous, [key]: value },
      );
      try {
        return fn(arg);
      } finally {
        core.setAsyncContext(previous);
      }
    },
    get(): V | undefined {
      return core.getAsyncContext()?.[key] as V | undefined;
    },
  };
}

function storageSlot<V>(): ContextSlot<V> {
  const storage = new AsyncLocalStorage!<V>();
  return {
    run: <A, R>(value: V, fn: (arg: A) => R, arg: A): R => storage.run(value, fn, arg),
    get: (): V | undefined => storage.getStore(),
  };
}

const core = readEnv("LUNET_CONTEXT") === "storage" ? undefined : runtimeCore();
const AsyncLocalStorage: typeof Storage | undefined = core
  ? undefined
  : (await import("node:async_hooks")).AsyncLocalStorage;

/**
 * Creates a slot for a value that follows the async call chain.
 *
 * @example The value survives an await
 * ```ts
 * import { contextSlot } from "./_context.ts";
 * const slot = contextSlot<string>();
 * const seen = await slot.run("outer", async () => {
 *   await new Promise((r) => setTimeout(r, 1));
 *   return slot.get();
 * }, undefined);
 * if (seen !== "outer") throw new Error(seen);
 * ```
 */
export function contextSlot<V>(): ContextSlot<V> {
  return core ? mappingSlot<V>(core) : storageSlot<V>();
}

/**
 * Captures the whole current async context (every variable, the current
 * task among them) so that a callback called from outside it, such as a
 * readiness callback of the FFI poller, can run inside it again with
 * {@linkcode runInContext}.
 *
 * @example
 * ```ts
 * import { captureContext, contextSlot, runInContext } from "./_context.ts";
 * const slot = contextSlot<string>();
 * const captured = slot.run("inside", captureContext, undefined);
 * if (slot.get() !== undefined) throw new Error("outside again");
 * if (runInContext(captured, () => slot.get()) !== "inside") throw new Error("restored");
 * ```
 */
export function captureContext(): CapturedContext {
  return core ? { mapping: core.getAsyncContext() } : { snapshot: AsyncLocalStorage!.snapshot() };
}

/**
 * Returns `fn` bound to the whole current async context: wherever it is
 * called from later, it runs inside the context it was bound in (every
 * variable, the current task among them), then restores the caller's.
 *
 * @example An event listener that runs where it was registered
 * ```ts
 * import { bindContext, contextSlot } from "./_context.ts";
 * const slot = contextSlot<string>();
 * const controller = new AbortController();
 * let seen: string | undefined;
 * slot.run("registered", () => {
 *   controller.signal.addEventListener("abort", bindContext(() => seen = slot.get()));
 * }, undefined);
 * controller.abort(); // fired from outside the slot's value
 * if (seen !== "registered") throw new Error(String(seen));
 * ```
 */
export function bindContext<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  const captured = captureContext();
  return (...args: A): R => runInContext(captured, () => fn(...args));
}

/**
 * An async context taken by {@linkcode captureContext}: the runtime's
 * mapping, or an AsyncLocalStorage snapshot where the mapping is not used.
 *
 * @example
 * ```ts
 * import { captureContext, type CapturedContext } from "./_context.ts";
 * const captured: CapturedContext = captureContext();
 * if (!("mapping" in captured) && !("snapshot" in captured)) throw new Error("one of two");
 * ```
 */
export type CapturedContext =
  | { readonly mapping: unknown }
  | { readonly snapshot: <R>(fn: () => R) => R };

/**
 * Calls `fn` inside a context taken by {@linkcode captureContext}, then
 * restores the caller's.
 *
 * @example
 * ```ts
 * import { captureContext, runInContext } from "./_context.ts";
 * const captured = captureContext();
 * if (runInContext(captured, () => 1 + 1) !== 2) throw new Error("returns fn's result");
 * ```
 */
export function runInContext<R>(captured: CapturedContext, fn: () => R): R {
  if ("snapshot" in captured) return captured.snapshot(fn);
  const previous = core!.getAsyncContext();
  core!.setAsyncContext(captured.mapping as Mapping);
  try {
    return fn();
  } finally {
    core!.setAsyncContext(previous);
  }
}

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
 * AsyncLocalStorage.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { readEnv } from "./env.ts";

type Mapping = Record<PropertyKey, unknown> | undefined;
interface AsyncContextCore {
  getAsyncContext(): Mapping;
  setAsyncContext(mapping: Mapping): void;
}

/** Runs `fn(arg)` with `value` as the current value; reads it back. */
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
  const storage = new AsyncLocalStorage<V>();
  return {
    run: <A, R>(value: V, fn: (arg: A) => R, arg: A): R => storage.run(value, fn, arg),
    get: (): V | undefined => storage.getStore(),
  };
}

const core = readEnv("LUNET_CONTEXT") === "storage" ? undefined : runtimeCore();

/**
 * Creates a slot for a value that follows the async call chain.
 *
 * @example
 * ```ts ignore
 * const slot = contextSlot<string>();
 * await slot.run("outer", async () => {
 *   await null;
 *   console.log(slot.get()); // "outer"
 * }, undefined);
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
 * ```ts ignore
 * const captured = captureContext();
 * setTimeout(() => runInContext(captured, () => console.log("inside")), 0);
 * ```
 */
export function captureContext(): CapturedContext {
  return core ? { mapping: core.getAsyncContext() } : { snapshot: AsyncLocalStorage.snapshot() };
}

/**
 * Returns `fn` bound to the whole current async context: wherever it is
 * called from later, it runs inside the context it was bound in (every
 * variable, the current task among them), then restores the caller's.
 *
 * @example
 * ```ts ignore
 * const bound = bindContext(() => console.log("inside"));
 * new AbortController().signal.addEventListener("abort", bound);
 * ```
 */
export function bindContext<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  const captured = captureContext();
  return (...args: A): R => runInContext(captured, () => fn(...args));
}

/**
 * An async context taken by {@linkcode captureContext}: the runtime's
 * mapping, or an AsyncLocalStorage snapshot where the mapping is not used.
 */
export type CapturedContext =
  | { readonly mapping: unknown }
  | { readonly snapshot: <R>(fn: () => R) => R };

/**
 * Calls `fn` inside a context taken by {@linkcode captureContext}, then
 * restores the caller's.
 *
 * @example
 * ```ts ignore
 * const captured = captureContext()!;
 * runInContext(captured, () => console.log("inside"));
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

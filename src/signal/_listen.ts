/**
 * Signal listeners, and {@linkcode wait}, the one-shot cancellable wait for
 * a signal.
 *
 * @module
 */
import { fromDenoError } from "../errors.ts";
import { park, type WaitOptions } from "../_wait.ts";

/**
 * A signal name, without the `SIG` prefix. The full Deno name
 * (`"SIGINT"`) is accepted too. SIGKILL and SIGSTOP cannot be waited for.
 *
 * @example
 * ```ts
 * import type { SignalName } from "@lunet/lunet/signal";
 * const stop: SignalName[] = ["INT", "TERM"];
 * if (stop.length !== 2) throw new Error("unreachable");
 * ```
 */
export type SignalName =
  | "INT"
  | "TERM"
  | "HUP"
  | "QUIT"
  | "USR1"
  | "USR2"
  | "WINCH"
  | "ALRM"
  | "PIPE"
  | "CHLD"
  | "CONT"
  | "TSTP"
  | "TTIN"
  | "TTOU"
  | "URG"
  | "XCPU"
  | "XFSZ"
  | "VTALRM"
  | "PROF"
  | "IO"
  | "PWR"
  | "SYS"
  | "TRAP"
  | "ABRT";

/** setInterval's longest period; only keeps the event loop alive. */
const KEEPALIVE_MS = 2 ** 31 - 1;

/** The Deno name of a signal (`"SIGINT"`), from either form. */
export function denoName(name: SignalName | Deno.Signal): Deno.Signal {
  return (name.startsWith("SIG") ? name : `SIG${name}`) as Deno.Signal;
}

function shortName(sig: Deno.Signal): SignalName {
  return sig.slice(3) as SignalName;
}

// Signals are process-wide, so is the count of armed waits.
let armed = 0;
let keepalive: ReturnType<typeof setInterval> | undefined;

/** Deno's signal listeners do not keep the process alive; an armed wait does. */
function holdProcess(): () => void {
  if (armed++ === 0) keepalive = setInterval(() => {}, KEEPALIVE_MS);
  return () => {
    if (--armed === 0) clearInterval(keepalive);
  };
}

/**
 * Adds `handler` for every signal; returns the function that removes them
 * all. Throws (having added none) when one of them cannot be listened to.
 */
export function listen(signals: Deno.Signal[], handler: (sig: Deno.Signal) => void): () => void {
  const added: Array<[Deno.Signal, () => void]> = [];
  const removeAll = () => {
    for (const [sig, fn] of added.splice(0)) Deno.removeSignalListener(sig, fn);
  };
  try {
    for (const sig of signals) {
      const fn = () => handler(sig);
      Deno.addSignalListener(sig, fn);
      added.push([sig, fn]);
    }
  } catch (err) {
    removeAll();
    throw err;
  }
  return removeAll;
}

/**
 * Waits for one of `signals`. One-shot: the listeners are removed as soon
 * as it fires, is cancelled or times out, and the default action of the
 * signal is restored. While armed, the wait keeps the process alive.
 *
 * @param signals One signal or several, short (`"INT"`) or Deno names (`"SIGINT"`).
 * @param opts Timeout, deadline and abort signal of the wait.
 * @returns The short name of the signal that came.
 * @throws {Error} A signal that cannot be caught (SIGKILL, SIGSTOP) or an
 * unknown name: `"signal SIGKILL: …"`.
 * @throws {TimeoutError} The timeout or deadline passed first.
 * @throws {Cancelled} The task was cancelled or `opts.signal` aborted.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { wait } from "@lunet/lunet/signal";
 * const got = wait(["USR1", "SIGUSR2"], { timeout: 1000 });
 * Deno.kill(Deno.pid, "SIGUSR2");
 * equal(await got, "USR2");
 * ```
 */
export function wait(
  signals: SignalName | Deno.Signal | readonly (SignalName | Deno.Signal)[],
  opts?: WaitOptions,
): Promise<SignalName> {
  const list: unknown[] = typeof signals === "string"
    ? [signals]
    : Array.isArray(signals)
    ? signals
    : [signals];
  const odd = list.find((s) => typeof s !== "string");
  if (odd !== undefined || list.length === 0) {
    return Promise.reject(
      new TypeError(
        `signal: wait() takes a signal name or an array of them, got ${
          list.length === 0 ? "an empty array" : String(odd)
        }`,
      ),
    );
  }
  const names = (list as (SignalName | Deno.Signal)[]).map(denoName);
  const what = `signal ${names.join(",")}`;
  return park<SignalName>(what, opts, (resolve, reject) => {
    const release = holdProcess();
    let removeListeners: () => void;
    function stop(): void {
      removeListeners();
      release();
    }
    try {
      removeListeners = listen(names, (sig) => {
        stop();
        resolve(shortName(sig));
      });
    } catch (err) {
      release();
      // Deno refuses an unknown signal, or one that cannot be caught, with a TypeError.
      reject(
        err instanceof TypeError
          ? new TypeError(`${what}: ${err.message}`)
          : fromDenoError(err, "signal", names.join(",")),
      );
      return;
    }
    return stop;
  });
}

/**
 * The one way `lunet/fs` runs a Deno file-system call: under the caller's
 * wait options and task, with its failure named after the operation and
 * the path.
 *
 * @module
 */
import { fromDenoError } from "../errors.ts";
import { park, type WaitOptions } from "../_wait.ts";

const encoder = new TextEncoder();

/** A path as it appears in messages: the string itself, or a URL's `href`. */
export function label(path: string | URL): string {
  return typeof path === "string" ? path : path.href;
}

/** `data` as bytes: a string is encoded as UTF-8. */
export function bytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

/**
 * Starts `run`, maps its failure to a lunet error, and waits for it under
 * `opts`. When the wait gives up early, the call stays in flight and
 * `abandoned` receives it.
 */
export function call<T>(
  op: string,
  target: string,
  opts: WaitOptions | undefined,
  run: () => Promise<T>,
  abandoned?: (p: Promise<T>) => void,
): Promise<T> {
  return park<T>(`${op} ${target}`, opts, (resolve, reject) => {
    const p = started(run).catch((err) => {
      throw fromDenoError(err, op, target);
    });
    p.then(resolve, reject);
    if (abandoned) return () => abandoned(p);
  });
}

/** `run()`, with a synchronous throw turned into a rejection. */
export function started<T>(run: () => Promise<T>): Promise<T> {
  try {
    return run();
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Whole-file helpers: {@linkcode readFile} and {@linkcode writeFile}.
 *
 * @module
 */
import type { WaitOptions } from "../_wait.ts";
import { bytes, call, label } from "./_call.ts";
import type { OpenOptions } from "./_open.ts";

/**
 * Options of {@linkcode writeFile}.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { readFile, writeFile, type WriteFileOptions } from "@lunet/lunet/fs";
 * const path = await Deno.makeTempFile();
 * const opts: WriteFileOptions = { append: true };
 * await writeFile(path, "one\n", opts);
 * await writeFile(path, "two\n", opts);
 * equal(new TextDecoder().decode(await readFile(path)), "one\ntwo\n");
 * await Deno.remove(path);
 * ```
 */
export interface WriteFileOptions extends OpenOptions {
  /** Append instead of replacing the content. */
  append?: boolean;
}

/**
 * Reads a whole file.
 *
 * @param path The file to read.
 * @param opts Timeout, deadline and abort signal of the wait.
 * @returns All of its bytes.
 * @throws {NotFound} `path` does not exist.
 * @throws {TimeoutError} The timeout or deadline passed first.
 * @throws {Cancelled} The task was cancelled or `opts.signal` aborted.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { readFile } from "@lunet/lunet/fs";
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array([1, 0, 2]));
 * deepEqual(await readFile(path), new Uint8Array([1, 0, 2]));
 * await Deno.remove(path);
 * ```
 */
export function readFile(path: string | URL, opts?: WaitOptions): Promise<Uint8Array> {
  return call("readFile", label(path), opts, () => Deno.readFile(path));
}

/**
 * Writes `data` to `path`, replacing its content, or appending with
 * `append: true`. Creates the file when it is missing.
 *
 * @param path The file to write.
 * @param data The bytes, or a string written as UTF-8.
 * @param opts `append`, permission bits of a created file, and the wait's
 * timeout, deadline and abort signal.
 * @throws {NotFound} The directory of `path` does not exist.
 * @throws {TimeoutError} The timeout or deadline passed first.
 * @throws {Cancelled} The task was cancelled or `opts.signal` aborted.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { readFile, writeFile } from "@lunet/lunet/fs";
 * const path = await Deno.makeTempFile();
 * await writeFile(path, new Uint8Array([1, 0, 2]));
 * deepEqual(await readFile(path), new Uint8Array([1, 0, 2]));
 * await Deno.remove(path);
 * ```
 */
export function writeFile(
  path: string | URL,
  data: Uint8Array | string,
  opts?: WriteFileOptions,
): Promise<void> {
  const buf = bytes(data);
  return call(
    "writeFile",
    label(path),
    opts,
    () => Deno.writeFile(path, buf, { append: opts?.append, mode: opts?.perm }),
  );
}

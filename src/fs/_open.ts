/**
 * {@linkcode open}: a path and a mode of the original in, a `File` out.
 *
 * @module
 */
import { abandon, type WaitOptions } from "../_wait.ts";
import { call, label } from "./_call.ts";
import { type File, newFile } from "./_file.ts";

/**
 * How {@linkcode open} opens a file: `r` read, `w` write (create, truncate),
 * `a` append (create), `x` write a new file (fails if it exists). A `+`
 * adds the other direction.
 *
 * @example
 * ```ts
 * import type { OpenMode } from "@lunet/lunet/fs";
 * const mode: OpenMode = "w+";
 * if (mode !== "w+") throw new Error("unreachable");
 * ```
 */
export type OpenMode = "r" | "r+" | "w" | "w+" | "a" | "a+" | "x" | "x+";

/**
 * Options of {@linkcode open}.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { open, type OpenOptions } from "@lunet/lunet/fs";
 * const path = `${await Deno.makeTempDir()}/secret`;
 * const opts: OpenOptions = { perm: 0o600, timeout: 1000 };
 * const f = await open(path, "w", opts);
 * f.close();
 * equal((await Deno.stat(path)).mode! & 0o777, 0o600);
 * await Deno.remove(path);
 * ```
 */
export interface OpenOptions extends WaitOptions {
  /** Permission bits of a file that `open` creates (before the umask); default `0o666`. */
  perm?: number;
}

const MODES: Record<OpenMode, Deno.OpenOptions> = {
  "r": { read: true },
  "r+": { read: true, write: true },
  "w": { write: true, create: true, truncate: true },
  "w+": { read: true, write: true, create: true, truncate: true },
  "a": { append: true, create: true },
  "a+": { read: true, append: true, create: true },
  "x": { write: true, createNew: true },
  "x+": { read: true, write: true, createNew: true },
};

/**
 * Opens `path` with `mode`. An open that gives up early (timeout, deadline,
 * cancel) closes the file as soon as the system has opened it.
 *
 * @param path The file to open.
 * @param mode How to open it (default `"r"`; see {@linkcode OpenMode}).
 * @param opts Permission bits of a created file, and the wait's timeout,
 * deadline and abort signal.
 * @returns The open {@linkcode File}, positioned at the start.
 * @throws {TypeError} `mode` is not one of {@linkcode OpenMode}.
 * @throws {NotFound} `path` does not exist (modes `r`, `r+`).
 * @throws {AlreadyExists} `path` exists (modes `x`, `x+`).
 * @throws {PermissionDenied} The system refused access.
 * @throws {TimeoutError} The timeout or deadline passed first.
 * @throws {Cancelled} The task was cancelled or `opts.signal` aborted.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { open } from "@lunet/lunet/fs";
 * const path = await Deno.makeTempFile();
 * const f = await open(path, "w");
 * equal(await f.write(new Uint8Array([0, 1, 0])), 3);
 * f.close();
 * equal((await Deno.stat(path)).size, 3);
 * await Deno.remove(path);
 * ```
 */
export function open(path: string | URL, mode: OpenMode = "r", opts?: OpenOptions): Promise<File> {
  const flags = MODES[mode];
  if (!flags) throw new TypeError(`open ${label(path)}: bad mode ${JSON.stringify(mode)}`);
  const target = label(path);
  return call(
    "open",
    target,
    opts,
    () => Deno.open(path, { ...flags, mode: opts?.perm }).then((f) => newFile(f, target)),
    closeWhenOpened,
  );
}

/** An abandoned open stays in flight; the file it opens later is closed at once. */
function closeWhenOpened(pending: Promise<File>): void {
  abandon(pending.then((f) => f.close()));
}

/**
 * What a path is: {@linkcode FileInfo}, and {@linkcode stat} and
 * {@linkcode lstat}, which return it.
 *
 * @module
 */
import type { WaitOptions } from "../_wait.ts";
import { call, label } from "./_call.ts";

/**
 * What a directory entry or a path is, with the original's names.
 *
 * @example
 * ```ts
 * import type { FileKind } from "@lunet/lunet/fs";
 * const kind: FileKind = "dir";
 * if (kind !== "dir") throw new Error("unreachable");
 * ```
 */
export type FileKind = "file" | "dir" | "link" | "fifo" | "socket" | "char" | "block" | "unknown";

/**
 * The result of {@linkcode stat}, {@linkcode lstat} and `File.stat()`.
 *
 * @example
 * ```ts
 * import { equal, ok } from "node:assert/strict";
 * import { stat, writeFile, type FileInfo } from "@lunet/lunet/fs";
 * const path = await Deno.makeTempFile();
 * await writeFile(path, "abc");
 * const info: FileInfo = await stat(path);
 * equal(info.kind, "file");
 * equal(info.size, 3);
 * ok(info.mtime instanceof Date);
 * await Deno.remove(path);
 * ```
 */
export interface FileInfo {
  /** File, directory, link, … */
  kind: FileKind;
  /** Size in bytes. */
  size: number;
  /** Permission bits (`0o644`), or `null` where the platform has none. */
  mode: number | null;
  /** Owner user id, or `null` where the platform has none. */
  uid: number | null;
  /** Owner group id, or `null` where the platform has none. */
  gid: number | null;
  /** Last modification. */
  mtime: Date | null;
  /** Last access. */
  atime: Date | null;
  /** Last status change. */
  ctime: Date | null;
  /** Creation, where the file system records it. */
  birthtime: Date | null;
}

/** The {@linkcode FileKind} of Deno's file information. */
export function kindOf(info: Deno.FileInfo): FileKind {
  if (info.isFile) return "file";
  if (info.isDirectory) return "dir";
  if (info.isSymlink) return "link";
  if (info.isFifo) return "fifo";
  if (info.isSocket) return "socket";
  if (info.isCharDevice) return "char";
  if (info.isBlockDevice) return "block";
  return "unknown";
}

/** Deno's file information as a {@linkcode FileInfo}. */
export function toFileInfo(info: Deno.FileInfo): FileInfo {
  return {
    kind: kindOf(info),
    size: info.size,
    mode: info.mode === null ? null : info.mode & 0o7777,
    uid: info.uid,
    gid: info.gid,
    mtime: info.mtime,
    atime: info.atime,
    ctime: info.ctime,
    birthtime: info.birthtime,
  };
}

/**
 * Information about `path`, following symbolic links.
 *
 * @param path The file, directory or link to look at.
 * @param opts Timeout, deadline and abort signal of the wait.
 * @returns What `path` (or the file a link points to) is.
 * @throws {NotFound} `path` does not exist (`"stat /x: not found"`).
 * @throws {TimeoutError} The timeout or deadline passed first.
 * @throws {Cancelled} The task was cancelled or `opts.signal` aborted.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { stat } from "@lunet/lunet/fs";
 * const info = await stat(Deno.cwd());
 * equal(info.kind, "dir");
 * ```
 */
export function stat(path: string | URL, opts?: WaitOptions): Promise<FileInfo> {
  return call("stat", label(path), opts, () => Deno.stat(path).then(toFileInfo));
}

/**
 * Information about `path` itself: a symbolic link is reported as `"link"`.
 *
 * @param path The file, directory or link to look at.
 * @param opts Timeout, deadline and abort signal of the wait.
 * @returns What `path` is, without following a link.
 * @throws {NotFound} `path` does not exist.
 * @throws {TimeoutError} The timeout or deadline passed first.
 * @throws {Cancelled} The task was cancelled or `opts.signal` aborted.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { lstat } from "@lunet/lunet/fs";
 * const dir = await Deno.makeTempDir();
 * await Deno.symlink(dir, `${dir}/self`);
 * equal((await lstat(`${dir}/self`)).kind, "link");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function lstat(path: string | URL, opts?: WaitOptions): Promise<FileInfo> {
  return call("lstat", label(path), opts, () => Deno.lstat(path).then(toFileInfo));
}

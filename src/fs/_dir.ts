/**
 * Directories and names: {@linkcode scandir}, {@linkcode mkdir},
 * {@linkcode remove} and {@linkcode rename}.
 *
 * @module
 */
import type { WaitOptions } from "../_wait.ts";
import { call, label } from "./_call.ts";
import { type FileKind, kindOf } from "./_info.ts";

/**
 * One entry of {@linkcode scandir}.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { scandir, type DirEntry } from "@lunet/lunet/fs";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/sub`);
 * const entries: DirEntry[] = await scandir(dir);
 * deepEqual(entries, [{ name: "sub", type: "dir" }]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface DirEntry {
  /** The entry's name (not a path). */
  name: string;
  /** What it is; a symbolic link is `"link"`, not what it points to. */
  type: FileKind;
}

/**
 * Options of {@linkcode mkdir} and {@linkcode remove}.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { type DirOptions, mkdir, remove, stat } from "@lunet/lunet/fs";
 * const dir = await Deno.makeTempDir();
 * const opts: DirOptions = { recursive: true };
 * await mkdir(`${dir}/a/b`, opts);
 * equal((await stat(`${dir}/a/b`)).kind, "dir");
 * await remove(dir, opts);
 * ```
 */
export interface DirOptions extends WaitOptions {
  /** `mkdir`: create missing parents, and succeed if it exists. `remove`: remove a tree. */
  recursive?: boolean;
  /** `mkdir`: permission bits of new directories (before the umask); default `0o777`. */
  perm?: number;
}

/**
 * Lists a directory, in the order the system gives the entries (unsorted).
 * `.` and `..` are left out. An entry that is neither a file, a directory
 * nor a link is looked at once more to tell a FIFO, socket or device.
 *
 * @param path The directory to list.
 * @param opts Timeout, deadline and abort signal of the wait.
 * @returns Each entry's name and type.
 * @throws {NotFound} `path` does not exist.
 * @throws {TimeoutError} The timeout or deadline passed first.
 * @throws {Cancelled} The task was cancelled or `opts.signal` aborted.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { scandir } from "@lunet/lunet/fs";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "a");
 * await Deno.mkdir(`${dir}/b`);
 * const names = (await scandir(dir)).map(({ name, type }) => `${type} ${name}`).sort();
 * deepEqual(names, ["dir b", "file a.txt"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function scandir(path: string | URL, opts?: WaitOptions): Promise<DirEntry[]> {
  const target = label(path);
  return call("scandir", target, opts, async () => {
    const out: DirEntry[] = [];
    const special: DirEntry[] = [];
    for await (const e of Deno.readDir(path)) {
      const type: FileKind = e.isFile
        ? "file"
        : e.isDirectory
        ? "dir"
        : e.isSymlink
        ? "link"
        : "unknown";
      const entry = { name: e.name, type };
      out.push(entry);
      if (type === "unknown") special.push(entry);
    }
    // The directory listing only tells files, directories and links apart.
    const base = target.endsWith("/") ? target : `${target}/`;
    await Promise.all(special.map(async (entry) => {
      try {
        entry.type = kindOf(await Deno.lstat(base + entry.name));
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }));
    return out;
  });
}

/**
 * Creates a directory; with `recursive: true` its missing parents too, and
 * an existing directory is not an error.
 *
 * @param path The directory to create.
 * @param opts `recursive`, permission bits of new directories, and the
 * wait's timeout, deadline and abort signal.
 * @throws {AlreadyExists} `path` exists (without `recursive`).
 * @throws {NotFound} A parent is missing (without `recursive`).
 * @throws {TimeoutError} The timeout or deadline passed first.
 * @throws {Cancelled} The task was cancelled or `opts.signal` aborted.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { mkdir, stat } from "@lunet/lunet/fs";
 * const dir = await Deno.makeTempDir();
 * await mkdir(`${dir}/x/y`, { recursive: true });
 * equal((await stat(`${dir}/x/y`)).kind, "dir");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function mkdir(path: string | URL, opts?: DirOptions): Promise<void> {
  return call(
    "mkdir",
    label(path),
    opts,
    () => Deno.mkdir(path, { recursive: opts?.recursive, mode: opts?.perm }),
  );
}

/**
 * Removes a file, a link or an empty directory; with `recursive: true`, a
 * whole tree.
 *
 * @param path What to remove; a link is removed, not what it points to.
 * @param opts `recursive`, and the wait's timeout, deadline and abort signal.
 * @throws {NotFound} `path` does not exist.
 * @throws {TimeoutError} The timeout or deadline passed first.
 * @throws {Cancelled} The task was cancelled or `opts.signal` aborted.
 *
 * @example
 * ```ts
 * import { rejects } from "node:assert/strict";
 * import { NotFound } from "@lunet/lunet";
 * import { remove, stat } from "@lunet/lunet/fs";
 * const path = await Deno.makeTempFile();
 * await remove(path);
 * await rejects(stat(path), NotFound);
 * ```
 */
export function remove(path: string | URL, opts?: DirOptions): Promise<void> {
  return call("remove", label(path), opts, () => Deno.remove(path, { recursive: opts?.recursive }));
}

/**
 * Renames (moves) `from` to `to`, replacing `to` when it is a file.
 *
 * @param from The current path.
 * @param to The new path.
 * @param opts Timeout, deadline and abort signal of the wait.
 * @throws {NotFound} `from` does not exist (`"rename /a -> /b: not found"`).
 * @throws {TimeoutError} The timeout or deadline passed first.
 * @throws {Cancelled} The task was cancelled or `opts.signal` aborted.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { rename, stat } from "@lunet/lunet/fs";
 * const from = await Deno.makeTempFile();
 * await rename(from, `${from}.moved`);
 * equal((await stat(`${from}.moved`)).kind, "file");
 * await Deno.remove(`${from}.moved`);
 * ```
 */
export function rename(from: string | URL, to: string | URL, opts?: WaitOptions): Promise<void> {
  return call("rename", `${label(from)} -> ${label(to)}`, opts, () => Deno.rename(from, to));
}

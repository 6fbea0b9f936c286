/**
 * Files and directories for tasks. Every call is cancellable with its task
 * and accepts `{ timeout, deadline, signal }`; errors name the operation and
 * the path (`"open /x/y: not found"`).
 *
 * {@linkcode open} takes the original's modes — `r`, `w` (create and
 * truncate), `a` (append), `x` (exclusive create), each with an optional `+`
 * for read-write — and returns a {@linkcode File}: `read(n)` continues where
 * the last read stopped and returns `null` at end of file (`readInto(buf)`
 * does the same without allocating), `write(data)` writes every byte (NUL
 * bytes included) and returns the count, and `lock()` takes an advisory
 * lock. {@linkcode readFile} and {@linkcode writeFile} handle a whole file;
 * {@linkcode stat}, {@linkcode lstat}, {@linkcode scandir},
 * {@linkcode mkdir}, {@linkcode remove} and {@linkcode rename} work on paths.
 *
 * @example Write, append and read back
 * ```ts
 * import { equal } from "node:assert/strict";
 * import * as fs from "@lunet/lunet/fs";
 * const path = await Deno.makeTempFile();
 * await fs.writeFile(path, "hello");
 * const f = await fs.open(path, "a");
 * await f.write(" world");
 * f.close();
 * equal(new TextDecoder().decode(await fs.readFile(path)), "hello world");
 * equal((await fs.stat(path)).kind, "file");
 * await fs.remove(path);
 * ```
 * @module
 */
export type { WaitOptions } from "./_wait.ts";
export { File, type Whence } from "./fs/_file.ts";
export { open, type OpenMode, type OpenOptions } from "./fs/_open.ts";
export { type FileInfo, type FileKind, lstat, stat } from "./fs/_info.ts";
export { readFile, writeFile, type WriteFileOptions } from "./fs/_whole.ts";
export { type DirEntry, type DirOptions, mkdir, remove, rename, scandir } from "./fs/_dir.ts";

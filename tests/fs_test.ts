import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { AlreadyExists, Cancelled, ClosedError, NotFound, spawn, TimeoutError } from "../mod.ts";
import * as fs from "../src/fs.ts";
import { noLeaks } from "./leak.ts";
import { concat } from "../src/_bytes.ts";

const text = new TextDecoder();

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "lunet_fs_" });
}

async function mkfifo(path: string): Promise<void> {
  const { success } = await new Deno.Command("mkfifo", { args: [path] }).output();
  ok(success, "mkfifo failed");
}

async function readAll(f: fs.File, size?: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let chunk; (chunk = await f.read(size)) !== null;) parts.push(chunk);
  return concat(parts);
}

function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + (i >> 8)) & 0xff;
  return out;
}

Deno.test(
  "fs: open modes",
  noLeaks(async (t) => {
    const dir = await tempDir();
    const path = `${dir}/f.txt`;
    await t.step("w creates and truncates, r reads", async () => {
      await fs.writeFile(path, "something long");
      const w = await fs.open(path, "w");
      equal(await w.write("short"), 5);
      w.close();
      using r = await fs.open(path, "r");
      equal(text.decode(await readAll(r)), "short");
    });
    await t.step("a appends at the end, whatever the position", async () => {
      const a = await fs.open(path, "a");
      await a.write("+1");
      await a.seek(0);
      await a.write("+2");
      a.close();
      equal(text.decode(await fs.readFile(path)), "short+1+2");
    });
    await t.step("x creates a new file and refuses an existing one", async () => {
      await rejects(fs.open(path, "x"), AlreadyExists);
      await rejects(fs.open(path, "x"), { message: `open ${path}: already exists` });
      const x = await fs.open(`${dir}/new.txt`, "x+");
      await x.write("fresh");
      await x.seek(0);
      equal(text.decode(await readAll(x)), "fresh");
      x.close();
    });
    await t.step("r+ reads and writes in place", async () => {
      await fs.writeFile(path, "abcdef");
      using f = await fs.open(path, "r+");
      equal(text.decode((await f.read(2))!), "ab");
      await f.write("XY");
      await f.seek(0);
      equal(text.decode(await readAll(f)), "abXYef");
    });
    await t.step("a missing file names the operation and the path", async () => {
      await rejects(fs.open(`${dir}/nope/x`, "r"), (err: unknown) => {
        ok(err instanceof NotFound);
        equal(err.message, `open ${dir}/nope/x: not found`);
        return true;
      });
    });
    await t.step("a bad mode is refused", () => {
      throws(() => fs.open(path, "rw" as fs.OpenMode), TypeError);
    });
    await fs.remove(dir, { recursive: true });
  }),
);

Deno.test(
  "fs: the original's read/write bugs are absent",
  noLeaks(async (t) => {
    const dir = await tempDir();
    const path = `${dir}/data.bin`;
    await t.step("sequential reads advance and EOF is exact", async () => {
      await fs.writeFile(path, "0123456789");
      using f = await fs.open(path);
      deepEqual(
        [await f.read(4), await f.read(4), await f.read(4)].map((b) => text.decode(b!)),
        ["0123", "4567", "89"],
      );
      equal(await f.read(4), null);
      equal(await f.read(), null);
    });
    await t.step(
      "binary data with NUL bytes round-trips; write returns the byte count",
      async () => {
        const data = new Uint8Array(512);
        for (let i = 0; i < data.length; i++) data[i] = i & 0xff; // NULs at 0, 256
        const withLeadingNuls = new Uint8Array([0, 0, 0, 65, 0, 66, 0]);
        const f = await fs.open(path, "w");
        const n1 = await f.write(data);
        const n2 = await f.write(withLeadingNuls);
        equal(typeof n1, "number");
        deepEqual([n1, n2], [512, 7]);
        f.close();
        const back = await fs.readFile(path);
        deepEqual(back.subarray(0, 512), data);
        deepEqual(back.subarray(512), withLeadingNuls);
        equal((await fs.stat(path)).size, 519);
      },
    );
    await t.step("multi-chunk reads reassemble the content", async () => {
      const data = pattern(1024 * 1024 + 123);
      await fs.writeFile(path, data);
      for (const size of [64 * 1024, 4093]) {
        using f = await fs.open(path);
        deepEqual(await readAll(f, size), data, `chunk size ${size}`);
      }
    });
    await t.step("readInto fills a caller's buffer", async () => {
      const data = pattern(200_000);
      await fs.writeFile(path, data);
      using f = await fs.open(path);
      const buf = new Uint8Array(4096);
      const out = new Uint8Array(data.length);
      let off = 0;
      for (let n; (n = await f.readInto(buf)) !== null; off += n) out.set(buf.subarray(0, n), off);
      equal(off, data.length);
      deepEqual(out, data);
    });
    await t.step("seek from start, current position and end", async () => {
      await fs.writeFile(path, "abcdefghij");
      using f = await fs.open(path);
      equal(await f.seek(3), 3);
      equal(text.decode((await f.read(2))!), "de");
      equal(await f.seek(0, "cur"), 5);
      equal(await f.seek(-2, "end"), 8);
      equal(text.decode((await f.read(10))!), "ij");
      equal(await f.read(), null);
    });
    await t.step("concurrent writes on one handle do not interleave", async () => {
      const f = await fs.open(path, "w");
      const chunks = Array.from(
        { length: 20 },
        (_, i) => String.fromCharCode(65 + i).repeat(10_000),
      );
      await Promise.all(chunks.map((c) => f.write(c)));
      f.close();
      equal(text.decode(await fs.readFile(path)), chunks.join(""));
    });
    await fs.remove(dir, { recursive: true });
  }),
);

Deno.test(
  "fs: stat, scandir and the path helpers",
  noLeaks(async (t) => {
    const dir = await tempDir();
    await t.step("scandir names every kind", async () => {
      await fs.writeFile(`${dir}/file`, "x");
      await fs.mkdir(`${dir}/dir`);
      await Deno.symlink(`${dir}/file`, `${dir}/link`);
      await mkfifo(`${dir}/fifo`);
      const listener = Deno.listen({ transport: "unix", path: `${dir}/sock` });
      const entries = await fs.scandir(dir);
      listener.close();
      entries.sort((a, b) => a.name.localeCompare(b.name));
      deepEqual(entries, [
        { name: "dir", type: "dir" },
        { name: "fifo", type: "fifo" },
        { name: "file", type: "file" },
        { name: "link", type: "link" },
        { name: "sock", type: "socket" },
      ]);
    });
    await t.step("stat follows links, lstat does not", async () => {
      const info = await fs.stat(`${dir}/link`);
      equal(info.kind, "file");
      equal(info.size, 1);
      ok(info.mtime instanceof Date);
      equal(typeof info.mode, "number");
      equal((await fs.lstat(`${dir}/link`)).kind, "link");
      equal((await fs.stat("/dev/null")).kind, "char");
      equal((await fs.stat(dir)).kind, "dir");
    });
    await t.step("mkdir, rename, remove", async () => {
      await fs.mkdir(`${dir}/a/b/c`, { recursive: true });
      await fs.mkdir(`${dir}/a/b/c`, { recursive: true });
      await rejects(fs.mkdir(`${dir}/a`), AlreadyExists);
      await fs.writeFile(`${dir}/a/b/c/f`, "1");
      await fs.writeFile(`${dir}/a/b/c/f`, "2", { append: true });
      await fs.rename(`${dir}/a/b/c/f`, `${dir}/a/g`);
      equal(text.decode(await fs.readFile(`${dir}/a/g`)), "12");
      await rejects(fs.remove(`${dir}/a`), Error);
      await fs.remove(`${dir}/a`, { recursive: true });
    });
    await t.step("errors carry the operation and the path", async () => {
      const missing = `${dir}/missing`;
      const cases: Array<[string, () => Promise<unknown>]> = [
        ["stat", () => fs.stat(missing)],
        ["scandir", () => fs.scandir(missing)],
        ["readFile", () => fs.readFile(missing)],
        ["remove", () => fs.remove(missing)],
        ["writeFile", () => fs.writeFile(`${missing}/x`, "")],
      ];
      for (const [op, call] of cases) {
        await rejects(call(), (err: unknown) => {
          ok(err instanceof NotFound, op);
          ok(err.message.startsWith(`${op} ${missing}`), err.message);
          ok(err.message.endsWith(": not found"), err.message);
          return true;
        });
      }
    });
    await fs.remove(dir, { recursive: true });
  }),
);

Deno.test(
  "fs: every wait is cancellable and close wakes waiters",
  noLeaks(async (t) => {
    const dir = await tempDir();
    const fifo = `${dir}/fifo`;
    await mkfifo(fifo);
    await t.step("an open that times out closes the file it gets later", async () => {
      await rejects(fs.open(fifo, "r", { timeout: 30 }), TimeoutError);
      // A writer lets the abandoned open finish; its file is closed at once.
      const w = await fs.open(fifo, "w");
      w.close();
    });
    await t.step("a timed-out read loses no data", async () => {
      using r = await fs.open(fifo, "r+");
      using w = await fs.open(fifo, "w");
      await rejects(r.read(100, { timeout: 20 }), (err: unknown) => {
        ok(err instanceof TimeoutError);
        equal(err.message, `read ${fifo}: timed out`);
        return true;
      });
      await w.write("kept");
      equal(text.decode((await r.read(100))!), "kept");
    });
    await t.step("bytes of an abandoned read are served to smaller reads in order", async () => {
      using r = await fs.open(fifo, "r+");
      using w = await fs.open(fifo, "w");
      const buf = new Uint8Array(100);
      await rejects(r.readInto(buf, { timeout: 20 }), TimeoutError);
      await w.write("0123456789");
      equal(text.decode((await r.read(4))!), "0123");
      const small = new Uint8Array(3);
      equal(await r.readInto(small), 3);
      equal(text.decode(small), "456");
      equal(text.decode((await r.read())!), "789");
    });
    await t.step("cancelling the task wakes a read with Cancelled", async () => {
      using r = await fs.open(fifo, "r+");
      const task = spawn(() => r.read());
      task.cancel();
      await rejects(task.then(), Cancelled);
      const w = await fs.open(fifo, "w");
      await w.write("late");
      w.close();
      equal(text.decode((await r.read())!), "late");
    });
    await t.step("an aborted signal wakes a read with Cancelled", async () => {
      using r = await fs.open(fifo, "r+");
      const ac = new AbortController();
      const p = r.read(10, { signal: ac.signal });
      ac.abort();
      await rejects(p, Cancelled);
      using w = await fs.open(fifo, "w");
      await w.write("x");
      equal(text.decode((await r.read())!), "x");
    });
    await t.step("close wakes a parked read and a queued write with ClosedError", async () => {
      const r = await fs.open(fifo, "r+");
      const read = r.read();
      const write = r.write("queued");
      r.close();
      await rejects(read, ClosedError);
      await rejects(write, ClosedError);
      await rejects(r.read(), { message: `read ${fifo}: closed` });
      // The read still parked in the system ends when data arrives.
      const w = await fs.open(fifo, "r+");
      await w.write("unblock");
      w.close();
    });
    await t.step("fs calls honour an expired deadline", async () => {
      await rejects(fs.stat(dir, { deadline: Date.now() - 1 }), TimeoutError);
      await rejects(fs.scandir(dir, { signal: AbortSignal.abort() }), Cancelled);
    });
    await fs.remove(dir, { recursive: true });
  }),
);

Deno.test(
  "fs: advisory locks",
  noLeaks(async (t) => {
    const path = await Deno.makeTempFile({ prefix: "lunet_lock_" });
    await t.step("an exclusive lock makes another handle wait", async () => {
      using a = await fs.open(path, "r+");
      using b = await fs.open(path, "r+");
      await a.lock();
      await rejects(b.lock(true, { timeout: 30 }), TimeoutError);
      const waiting = spawn(() => b.lock());
      await a.unlock();
      await waiting;
      await rejects(a.lock(true, { timeout: 10 }), TimeoutError);
      await b.unlock();
    });
    await t.step("shared locks coexist; cancel wakes a waiting lock", async () => {
      using a = await fs.open(path, "r+");
      using b = await fs.open(path, "r+");
      await a.lock(false);
      await b.lock(false);
      const task = spawn(() => b.lock(true));
      task.cancel();
      await rejects(task.then(), Cancelled);
      await a.unlock();
      await b.unlock();
    });
    await fs.remove(path);
  }),
);

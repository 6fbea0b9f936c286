/**
 * The two SQLite engines: which one `open` picks, and what each promises
 * under load — the event loop turning while a read streams many rows or a
 * write waits for another connection's lock, order kept behind a paused
 * read, and (ffi) statements given up while they run actually stopped.
 */
import assert from "node:assert/strict";
import { Cancelled, DbError, sleep, spawn, TimeoutError, trace } from "../mod.ts";
import * as sqlite from "../drivers/sqlite.ts";
import { noLeaks } from "./leak.ts";
import { rejection } from "./rejection.ts";
import { target } from "./db_targets.ts";
import { runCommand } from "./process_helpers.ts";

const t = target("sqlite");
const ENGINES = ["ffi", "worker"] as const;
const MANY_ROWS =
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 60000) SELECT x, printf('%0100d', x) AS s FROM c";

/** How many 5 ms timer turns the event loop ran while `fn` was awaited. */
async function ticksDuring<T>(fn: () => Promise<T>): Promise<[T, number]> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    return [await fn(), ticks];
  } finally {
    clearInterval(timer);
  }
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test(
  "sqlite engines: open picks ffi where the library loads, worker when named, refuses others",
  noLeaks(async () => {
    for (const engine of ENGINES) {
      const db = await sqlite.open({ path: ":memory:", engine });
      try {
        const { counts } = trace.snapshot();
        assert.equal(counts[engine === "ffi" ? "sqlite" : "worker"], 1, engine);
        assert.deepEqual(await db.queryOne("SELECT ? + 1 AS n", 41), { n: 42 });
      } finally {
        await db.close();
      }
    }
    const err = await rejection(sqlite.open({ path: ":memory:", engine: "bogus" as "ffi" }));
    assert.ok(err instanceof DbError);
    assert.match(err.message, /unknown engine "bogus"/);
  }),
);

Deno.test(
  "sqlite engines: without --allow-ffi the worker engine serves, and naming ffi is a clear error",
  noLeaks(async () => {
    const script = `
      import * as sqlite from ${
      JSON.stringify(new URL("../drivers/sqlite.ts", import.meta.url).href)
    };
      import { trace } from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
      const db = await sqlite.open(":memory:");
      const row = await db.queryOne("SELECT 6 * 7 AS n");
      console.log(JSON.stringify({ row, counts: trace.snapshot().counts }));
      await db.close();
      try { await sqlite.open({ path: ":memory:", engine: "ffi" }); } catch (e) { console.log(e.message); }
    `;
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    await Deno.writeTextFile(file, script);
    const out = await runCommand(Deno.execPath(), ["run", "--allow-read", "--allow-env", file])
      .finally(() => Deno.remove(file));
    assert.equal(out.code, 0, out.err);
    const [first, second] = out.out.trim().split("\n");
    const { row, counts } = JSON.parse(first);
    assert.deepEqual(row, { n: 42 });
    assert.equal(counts.worker, 1);
    assert.equal(counts.sqlite, undefined);
    assert.match(second, /ffi engine is not available: --allow-ffi is not granted/);
  }),
);

for (const engine of ENGINES) {
  Deno.test(
    `sqlite ${engine}: the event loop turns while a read returns 60,000 rows`,
    noLeaks(async () => {
      const db = await sqlite.open({ path: ":memory:", engine });
      try {
        const [rows, ticks] = await ticksDuring(() =>
          db.query<{ x: number; s: string }>(MANY_ROWS)
        );
        assert.equal(rows.length, 60000);
        assert.deepEqual(rows[59999], { x: 60000, s: "60000".padStart(100, "0") });
        assert.ok(ticks >= 2, `timer turns during the read: ${ticks}`);
      } finally {
        await db.close();
      }
    }),
  );

  Deno.test(
    `sqlite ${engine}: a write waiting for another connection's lock leaves the loop free`,
    noLeaks(async () => {
      await withDir(async (dir) => {
        const path = `${dir}/lock.db`;
        const a = await sqlite.open({ path, engine, readers: 0 });
        const b = await sqlite.open({ path, engine, readers: 0, busyTimeout: 3000 });
        try {
          await a.exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)");
          let release!: () => void;
          const released = new Promise<void>((r) => release = r);
          const holder = a.transaction(async (tx) => {
            await tx.exec("INSERT INTO kv VALUES ('a', 1)");
            await released;
          }, { mode: "immediate" });
          await sleep(20);
          const write = b.exec("INSERT INTO kv VALUES ('b', 2)");
          const [, ticks] = await ticksDuring(() => sleep(200));
          assert.ok(ticks >= 20, `timer turns while the write waits: ${ticks}`);
          release();
          await holder;
          assert.equal((await write).affectedRows, 1);
          assert.deepEqual(await b.query("SELECT k, v FROM kv ORDER BY k"), [
            { k: "a", v: 1 },
            { k: "b", v: 2 },
          ]);
        } finally {
          await b.close();
          await a.close();
        }
      });
    }),
  );

  Deno.test(
    `sqlite ${engine}: statements behind a long read run after it, in call order`,
    noLeaks(async () => {
      const db = await sqlite.open({ path: ":memory:", engine });
      try {
        await db.exec("CREATE TABLE log (n INTEGER)");
        const read = db.query(MANY_ROWS);
        const insert = db.exec("INSERT INTO log VALUES (1)");
        const count = db.queryOne("SELECT count(*) AS n FROM log");
        const [rows, inserted, counted] = await Promise.all([read, insert, count]);
        assert.equal(rows.length, 60000);
        assert.equal(inserted.affectedRows, 1);
        assert.deepEqual(counted, { n: 1 });
      } finally {
        await db.close();
      }
    }),
  );
}

Deno.test(
  "sqlite ffi: a statement given up while it runs is stopped, and the connection serves at once",
  noLeaks(async (ctx) => {
    await withDir(async (dir) => {
      const db = await sqlite.open({ path: `${dir}/stop.db`, engine: "ffi", readers: 0 });
      try {
        await ctx.step("a long read, cancelled", async () => {
          const long = spawn(() => db.query(t.long));
          await sleep(100);
          long.cancel();
          assert.ok((await rejection(long)) instanceof Cancelled);
          const started = performance.now();
          assert.deepEqual(await db.queryOne("SELECT 1 AS n"), { n: 1 });
          const took = performance.now() - started;
          assert.ok(took < 1000, `the next statement waited ${took.toFixed(0)} ms`);
        });
        await ctx.step("a long result set, cancelled while it streams", async () => {
          const read = spawn(() => db.query(MANY_ROWS));
          await sleep(5);
          read.cancel();
          assert.ok((await rejection(read)) instanceof Cancelled);
          assert.deepEqual(await db.queryOne("SELECT 2 AS n"), { n: 2 });
        });
        await ctx.step("a timeout stops a long read the same way", async () => {
          const err = await rejection(db.query({ sql: t.long, timeout: 100 }));
          assert.ok(err instanceof TimeoutError, String(err));
          const started = performance.now();
          await db.queryOne("SELECT 3 AS n");
          assert.ok(performance.now() - started < 1000);
        });
      } finally {
        await db.close();
      }
    });
  }),
);

for (const engine of ENGINES) {
  Deno.test(
    `sqlite ${engine}: a file that is not a database gives a clear error, and no connection stays open`,
    noLeaks(async () => {
      await withDir(async (dir) => {
        const path = `${dir}/garbage.db`;
        await Deno.writeFile(path, new Uint8Array(8192).fill(0x5a));
        const err = await rejection(
          sqlite.open({ path, engine }).then((db) => db.query("SELECT * FROM sqlite_master")),
        );
        assert.ok(err instanceof DbError, String(err));
        assert.match(err.message, /file is not a database/);
        assert.equal((trace.snapshot().counts[engine === "ffi" ? "sqlite" : "worker"]) ?? 0, 0);
      });
    }),
  );
}

Deno.test(
  "sqlite ffi: text with NULs reads back whole from every statement, RETURNING included",
  noLeaks(async () => {
    const db = await sqlite.open({ path: ":memory:", engine: "ffi" });
    try {
      await db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
      assert.deepEqual(
        await db.queryOne("INSERT INTO t (v) VALUES (?) RETURNING id, v", "a\0b\0é"),
        { id: 1, v: "a\0b\0é" },
      );
      assert.deepEqual(await db.query("UPDATE t SET v = v || ? RETURNING v", "\0"), [
        { v: "a\0b\0é\0" },
      ]);
    } finally {
      await db.close();
    }
  }),
);

/** `deno run` of a child script with what SQLite needs, on `path` with `engine`. */
function scriptArgs(script: string, path: string, engine: string): string[] {
  return [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-ffi",
    script,
    path,
    engine,
  ];
}

const WRITER = `
  import * as sqlite from ${JSON.stringify(new URL("../drivers/sqlite.ts", import.meta.url).href)};
  const [path, engine] = Deno.args;
  const db = await sqlite.open({ path, engine, readers: 0 });
  await db.exec("CREATE TABLE IF NOT EXISTS w (batch INTEGER, n INTEGER, v TEXT)");
  for (let batch = 0; ; batch++) {
    await db.transaction(async (tx) => {
      for (let n = 0; n < 100; n++) await tx.exec("INSERT INTO w VALUES (?, ?, ?)", batch, n, "x".repeat(200));
    });
    console.log(batch + 1);
  }
`;

for (const engine of ENGINES) {
  Deno.test(
    `sqlite ${engine}: a writer killed with SIGKILL mid-transaction leaves every committed batch and no partial one`,
    noLeaks(async () => {
      await withDir(async (dir) => {
        const script = `${dir}/writer.ts`;
        const path = `${dir}/killed.db`;
        await Deno.writeTextFile(script, WRITER);
        const child = new Deno.Command(Deno.execPath(), {
          args: scriptArgs(script, path, engine),
          stdout: "piped",
          stderr: "null",
          stdin: "null",
        }).spawn();
        let committed = 0;
        const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let text = "";
        while (committed < 20) {
          const { value, done } = await lines.read();
          if (done) break;
          text += value;
          const reported = text.trim().split("\n").map(Number).filter(Number.isFinite);
          committed = reported.length ? reported[reported.length - 1] : 0;
        }
        child.kill("SIGKILL");
        await child.status;
        await lines.cancel();
        assert.ok(committed >= 20, `batches reported before the kill: ${committed}`);
        for (const reader of ENGINES) {
          const db = await sqlite.open({ path, engine: reader });
          try {
            assert.deepEqual(await db.queryOne("PRAGMA integrity_check"), {
              integrity_check: "ok",
            });
            const rows = await db.query<{ batch: number; n: number }>(
              "SELECT batch, count(*) AS n FROM w GROUP BY batch ORDER BY batch",
            );
            assert.ok(
              rows.length >= committed,
              `${rows.length} batches stored, ${committed} reported`,
            );
            rows.forEach((row, i) => assert.deepEqual(row, { batch: i, n: 100 }));
          } finally {
            await db.close();
          }
        }
      });
    }),
  );
}

const INSERTER = `
  import * as sqlite from ${JSON.stringify(new URL("../drivers/sqlite.ts", import.meta.url).href)};
  const [path, engine] = Deno.args;
  const db = await sqlite.open({ path, engine, readers: 1, busyTimeout: 10000 });
  for (let i = 0; i < 200; i++) {
    await db.exec("INSERT INTO w VALUES (?, ?)", engine, i);
    if (i % 20 === 0) {
      await db.transaction(async (tx) => {
        const { n } = (await tx.queryOne("SELECT count(*) AS n FROM w WHERE who = ?", engine))!;
        await tx.exec("INSERT INTO w VALUES (?, ?)", engine + "-tx", n);
      }, { mode: "immediate" });
    }
  }
  await db.close();
`;

Deno.test(
  "sqlite engines: two processes, one per engine, write the same file at once and lose nothing",
  noLeaks(async () => {
    await withDir(async (dir) => {
      const script = `${dir}/inserter.ts`;
      const path = `${dir}/shared.db`;
      await Deno.writeTextFile(script, INSERTER);
      const setup = await sqlite.open({ path });
      await setup.exec("CREATE TABLE w (who TEXT, i INTEGER)");
      await setup.close();
      const outcomes = await Promise.all(
        ENGINES.map((engine) => runCommand(Deno.execPath(), scriptArgs(script, path, engine))),
      );
      for (const out of outcomes) assert.equal(out.code, 0, out.err);
      const db = await sqlite.open({ path });
      try {
        assert.deepEqual(
          await db.query("SELECT who, count(*) AS n FROM w GROUP BY who ORDER BY who"),
          [
            { who: "ffi", n: 200 },
            { who: "ffi-tx", n: 10 },
            { who: "worker", n: 200 },
            { who: "worker-tx", n: 10 },
          ],
        );
      } finally {
        await db.close();
      }
    });
  }),
);

const SCOPED = `
  import * as sqlite from ${JSON.stringify(new URL("../drivers/sqlite.ts", import.meta.url).href)};
  const [engine, inside, outside] = Deno.args;
  const attempt = async (fn) => { try { return await fn(); } catch (e) { return "refused: " + e.message; } };
  const out = {};
  out.outside = await attempt(async () => { const db = await sqlite.open({ path: outside + "/x.db", engine }); await db.close(); return "opened"; });
  const db = await sqlite.open({ path: inside + "/" + engine + ".db", engine });
  await db.exec("CREATE TABLE t (x)");
  out.inside = "opened";
  out.attach = await attempt(() => db.exec("ATTACH DATABASE '" + outside + "/y.db' AS y").then(() => "attached"));
  out.vacuum = await attempt(() => db.exec("VACUUM INTO '" + outside + "/copy.db'").then(() => "copied"));
  await db.close();
  console.log(JSON.stringify(out));
`;

Deno.test(
  "sqlite engines: Deno's read and write permissions bound which files a database may open, ATTACH and VACUUM INTO",
  noLeaks(async () => {
    await withDir(async (dir) => {
      const inside = `${dir}/in`, outside = `${dir}/out`;
      await Deno.mkdir(inside);
      await Deno.mkdir(outside);
      const script = `${inside}/scoped.ts`;
      await Deno.writeTextFile(script, SCOPED);
      const root = new URL("..", import.meta.url).pathname;
      for (const engine of ENGINES) {
        const out = await runCommand(Deno.execPath(), [
          "run",
          "--allow-env",
          "--allow-ffi",
          `--allow-read=${inside},${root}`,
          `--allow-write=${inside}`,
          script,
          engine,
          inside,
          outside,
        ]);
        assert.equal(out.code, 0, out.err);
        const seen = JSON.parse(out.out);
        assert.match(seen.outside, /^refused: .*Requires read access to ".*\/out\/x\.db"/, engine);
        assert.equal(seen.inside, "opened", engine);
        assert.match(seen.attach, /^refused: .*too many attached databases/, engine);
        assert.match(seen.vacuum, /^refused: .*too many attached databases/, engine);
        assert.deepEqual([...Deno.readDirSync(outside)], [], `${engine}: nothing written outside`);
      }
    });
  }),
);

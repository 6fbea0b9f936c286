/**
 * File throughput: writes then reads 64 MiB in 64 KiB chunks with
 * `lunet/fs` (inside a task, so every call goes through the cancellable
 * wait path) and with `Deno.open` directly, alternating in the same run.
 * Reads are measured twice: into one reused buffer (`readInto` vs
 * `FsFile.read(buf)`) and into a fresh buffer per chunk (`read(n)` vs
 * `FsFile.read(new Uint8Array(n))`). Prints a markdown table of the median
 * and the best MiB/s per side, with their ratios (the best of many rounds
 * is the steadier figure on a shared machine).
 *
 *   deno run -A bench/fs_load.ts [--smoke] [--rounds N] [--mib N]
 */
import { spawn } from "../mod.ts";
import * as fs from "../src/fs.ts";

const args = Deno.args;
const smoke = args.includes("--smoke");
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const CHUNK = 64 * 1024;
const TOTAL = flag("--mib", smoke ? 8 : 64) * 1024 * 1024;
const ROUNDS = flag("--rounds", smoke ? 3 : 15);

const chunk = new Uint8Array(CHUNK);
for (let i = 0; i < CHUNK; i++) chunk[i] = (i * 31) & 0xff;

async function lunetWrite(path: string): Promise<void> {
  const f = await fs.open(path, "w");
  for (let done = 0; done < TOTAL; done += CHUNK) await f.write(chunk);
  f.close();
}

async function lunetReadInto(path: string): Promise<number> {
  const f = await fs.open(path, "r");
  const buf = new Uint8Array(CHUNK);
  let n = 0;
  for (let got; (got = await f.readInto(buf)) !== null;) n += got;
  f.close();
  return n;
}

async function lunetRead(path: string): Promise<number> {
  const f = await fs.open(path, "r");
  let n = 0;
  for (let data; (data = await f.read(CHUNK)) !== null;) n += data.length;
  f.close();
  return n;
}

async function denoWrite(path: string): Promise<void> {
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let done = 0; done < TOTAL; done += CHUNK) {
    for (let off = 0; off < CHUNK;) off += await f.write(chunk.subarray(off));
  }
  f.close();
}

async function denoReadInto(path: string): Promise<number> {
  const f = await Deno.open(path, { read: true });
  const buf = new Uint8Array(CHUNK);
  let n = 0;
  for (let got; (got = await f.read(buf)) !== null;) n += got;
  f.close();
  return n;
}

async function denoRead(path: string): Promise<number> {
  const f = await Deno.open(path, { read: true });
  let n = 0;
  for (;;) {
    const buf = new Uint8Array(CHUNK);
    const got = await f.read(buf);
    if (got === null) break;
    n += buf.subarray(0, got).length;
  }
  f.close();
  return n;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  const n = await fn();
  const ms = performance.now() - t0;
  if (typeof n === "number" && n !== TOTAL) throw new Error(`read ${n} bytes, expected ${TOTAL}`);
  return (TOTAL / (1024 * 1024)) / (ms / 1000);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const dir = await Deno.makeTempDir({ prefix: "lunet_fs_load_" });
// Each side writes its own file; both read one file written and synced up front.
const writePaths = { lunet: `${dir}/lunet.bin`, deno: `${dir}/deno.bin` };
const readPath = `${dir}/read.bin`;
await denoWrite(readPath);
await Deno.open(readPath, { read: true }).then(async (f) => {
  await f.sync();
  f.close();
});
const ops = {
  "write": { lunet: lunetWrite, deno: denoWrite },
  "read, reused buffer": { lunet: lunetReadInto, deno: denoReadInto },
  "read, fresh buffers": { lunet: lunetRead, deno: denoRead },
};
type Op = keyof typeof ops;
const results = Object.fromEntries(
  Object.keys(ops).map((op) => [op, { lunet: [] as number[], deno: [] as number[] }]),
) as Record<Op, { lunet: number[]; deno: number[] }>;
try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ["lunet", "deno"] as const : ["deno", "lunet"] as const;
    for (const op of Object.keys(ops) as Op[]) {
      for (const side of order) {
        const path = op === "write" ? writePaths[side] : readPath;
        const run = () => timed(() => ops[op][side](path));
        results[op][side].push(side === "lunet" ? await spawn(run) : await run());
      }
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

const mib = TOTAL / (1024 * 1024);
console.log(`\n${mib} MiB in ${CHUNK / 1024} KiB chunks, ${ROUNDS} rounds, MiB/s\n`);
console.log(
  "| operation | lunet/fs median | Deno.open median | ratio | lunet/fs best | Deno.open best | ratio |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const op of Object.keys(ops) as Op[]) {
  const { lunet, deno } = results[op];
  const cells = [median, (xs: number[]) => Math.max(...xs)].flatMap((pick) => {
    const l = pick(lunet), d = pick(deno);
    return [l.toFixed(0), d.toFixed(0), `${(l / d).toFixed(2)}×`];
  });
  console.log(`| ${op} | ${cells.join(" | ")} |`);
}

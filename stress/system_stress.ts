/**
 * The original's system mix: 50 workers × 100 operations each, rotating
 * sleep, stat and scandir over a small directory tree, repeated for 10
 * rounds (one round of 10 workers × 30 with `--smoke`). Reports progress and
 * ops/s; exits non-zero on any error, on a leaked task or handle, or when
 * the watchdog fires.
 *
 *   deno run -A stress/system_stress.ts [--smoke]
 */
import { scope, sleep, spawn, trace } from "../mod.ts";
import * as fs from "../src/fs.ts";
import { every, now } from "../src/timer.ts";

const smoke = Deno.args.includes("--smoke");
const WORKERS = smoke ? 10 : 50;
const OPS = smoke ? 30 : 100;
const ROUNDS = smoke ? 1 : 10;
const TOTAL = ROUNDS * WORKERS * OPS;
const FILES = 32;
const WATCHDOG_MS = smoke ? 20_000 : 120_000;

const watchdog = setTimeout(() => {
  console.error(`system_stress: watchdog fired after ${WATCHDOG_MS} ms`);
  Deno.exit(2);
}, WATCHDOG_MS);

const dir = await Deno.makeTempDir({ prefix: "lunet_system_stress_" });
for (let i = 0; i < FILES; i++) await fs.writeFile(`${dir}/f${i}`, `file ${i}\n`.repeat(i + 1));
await fs.mkdir(`${dir}/sub`);

const before = trace.snapshot().counts;
let done = 0;
const errors: unknown[] = [];
const t0 = now();

const progress = spawn(() => {
  const timer = every(250, () => {
    console.log(`  ${done}/${TOTAL} ops, ${errors.length} errors`);
  });
  return timer.done();
});

for (let round = 0; round < ROUNDS; round++) await runRound();

async function runRound(): Promise<void> {
  await scope(() => {
    for (let w = 0; w < WORKERS; w++) {
      spawn(async () => {
        for (let i = 0; i < OPS; i++) {
          try {
            switch ((w + i) % 3) {
              case 0:
                await sleep(i % 4);
                break;
              case 1: {
                const info = await fs.stat(`${dir}/f${(w * OPS + i) % FILES}`);
                if (info.kind !== "file" || info.size === 0) throw new Error("bad stat");
                break;
              }
              case 2: {
                const entries = await fs.scandir(dir);
                if (entries.length !== FILES + 1) throw new Error(`scandir saw ${entries.length}`);
                break;
              }
            }
          } catch (err) {
            errors.push(err);
          }
          done++;
        }
      }, { name: `worker-${w}` });
    }
  });
}

const seconds = (now() - t0) / 1000;
progress.cancel();
await progress.catch(() => {});
await fs.remove(dir, { recursive: true });
clearTimeout(watchdog);

// Let finished tasks and closed handles settle before counting.
await sleep(20);
const after = trace.snapshot().counts;
const leaked = JSON.stringify(after) !== JSON.stringify(before);

console.log(
  `system_stress: ${done} ops (${ROUNDS} rounds × ${WORKERS} workers × ${OPS}) in ${
    seconds.toFixed(2)
  } s, ` +
    `${(done / seconds).toFixed(0)} ops/s, ${errors.length} errors, ` +
    `leaks: ${leaked ? JSON.stringify(after) : "none"}`,
);
for (const err of errors.slice(0, 5)) console.error(err);
if (errors.length > 0 || leaked || done !== TOTAL) Deno.exit(1);

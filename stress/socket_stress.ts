/**
 * Stress: lunet sockets under sustained load, checking every byte.
 *
 * 1. Integrity: 1 GiB each way through a TCP echo server (and 256 MiB
 *    over a Unix socket), a byte pattern checked on arrival.
 * 2. Reconnect churn: 256 clients connect, exchange a message and
 *    disconnect, for 20 rounds.
 * 3. Timeouts under load: 64 clients whose reads time out while the server
 *    answers late; each late answer must arrive whole.
 * 4. UDP: 8 ping-pong senders for a few seconds (a lost datagram is retried).
 *
 * After each part the live task/handle counts must return to the
 * baseline. Bounded in size and time, with a watchdog.
 *
 *     deno run -A stress/socket_stress.ts           # full run
 *     deno run -A stress/socket_stress.ts --smoke   # a few seconds
 *
 * Exits non-zero on any error or leak.
 *
 * @module
 */
import { scope, sleep, spawn, trace } from "../mod.ts";
import { connect, listen } from "../src/socket.ts";
import * as udp from "../src/udp.ts";
import { patternRoundTrip, serveEcho } from "../tests/net_helpers.ts";

const smoke = Deno.args.includes("--smoke");
const MiB = 1024 * 1024;
const WATCHDOG_MS = smoke ? 60_000 : 600_000;
const watchdog = setTimeout(() => {
  console.error(`socket stress: watchdog fired after ${WATCHDOG_MS} ms`);
  Deno.exit(2);
}, WATCHDOG_MS);

const baseline = JSON.stringify(trace.snapshot().counts);
let ops = 0;

async function part(name: string, fn: () => Promise<string>): Promise<void> {
  const t0 = performance.now();
  const detail = await fn();
  for (let i = 0; i < 200 && JSON.stringify(trace.snapshot().counts) !== baseline; i++) {
    await sleep(10);
  }
  const now = JSON.stringify(trace.snapshot().counts);
  if (now !== baseline) {
    throw new Error(`${name}: leaked ${now} (baseline ${baseline})\n${trace.report()}`);
  }
  console.log(`ok ${name}: ${detail} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

async function integrity(kind: "tcp" | "unix", bytes: number): Promise<string> {
  const dir = kind === "unix" ? await Deno.makeTempDir({ prefix: "lunet-stress-" }) : "";
  const l = kind === "unix"
    ? await listen("unix", `${dir}/echo.sock`)
    : await listen("tcp", "127.0.0.1", 0);
  const server = serveEcho(l);
  const c = kind === "unix"
    ? await connect(`${dir}/echo.sock`)
    : await connect("127.0.0.1", l.addr.port!);
  const t0 = performance.now();
  let last = t0;
  const progress = setInterval(() => {
    const now = performance.now();
    if (now - last > 5000) console.log(`  ${kind} integrity running…`), last = now;
  }, 1000);
  try {
    await patternRoundTrip(c, bytes);
  } finally {
    clearInterval(progress);
    c.close();
    l.close();
    await server;
    if (dir) await Deno.remove(dir, { recursive: true });
  }
  ops += bytes / (256 * 1024);
  const secs = (performance.now() - t0) / 1000;
  return `${bytes / MiB} MiB each way, ${(bytes / MiB / secs).toFixed(0)} MiB/s each way`;
}

async function churn(rounds: number, clients: number): Promise<string> {
  const l = await listen("tcp", "127.0.0.1", 0);
  const server = serveEcho(l);
  const t0 = performance.now();
  for (let round = 0; round < rounds; round++) {
    await scope(() => {
      for (let i = 0; i < clients; i++) {
        spawn(async () => {
          const c = await connect("127.0.0.1", l.addr.port, { timeout: 10_000 });
          try {
            const msg = `round ${round} client ${i}`;
            await c.write(msg);
            let got = "";
            while (got.length < msg.length) got += new TextDecoder().decode((await c.read())!);
            if (got !== msg) throw new Error(`churn: got "${got}", want "${msg}"`);
          } finally {
            c.close();
          }
        });
      }
    });
  }
  l.close();
  await server;
  const n = rounds * clients;
  ops += n;
  return `${n} connections, ${(n / ((performance.now() - t0) / 1000)).toFixed(0)} conns/s`;
}

async function lateAnswers(clients: number): Promise<string> {
  const l = await listen("tcp", "127.0.0.1", 0);
  const server = spawn(() =>
    scope(async () => {
      for await (const conn of l) {
        spawn(async () => {
          using c = conn;
          for (let d; (d = await c.read()) !== null;) {
            await sleep(30); // answer after the client's read timed out
            await c.write(d);
          }
        });
      }
    })
  );
  let timeouts = 0;
  await scope(() => {
    for (let i = 0; i < clients; i++) {
      spawn(async () => {
        using c = await connect("127.0.0.1", l.addr.port);
        for (let k = 0; k < 5; k++) {
          const msg = `client ${i} message ${k}`;
          await c.write(msg);
          let got = "";
          while (got.length < msg.length) {
            const chunk = await c.read({ timeout: 5 }).catch((e) => {
              if (e.code !== "timeout") throw e;
              timeouts++;
              return new Uint8Array(0);
            });
            if (chunk === null) throw new Error("late answers: early end of stream");
            got += new TextDecoder().decode(chunk);
          }
          if (got !== msg) throw new Error(`late answers: got "${got}", want "${msg}"`);
        }
      });
    }
  });
  l.close();
  await server;
  ops += clients * 5;
  return `${clients * 5} late answers, ${timeouts} read timeouts, no data lost`;
}

async function udpPingPong(seconds: number): Promise<string> {
  const server = udp.bind("127.0.0.1", 0);
  const echo = spawn(async () => {
    for (;;) {
      const m = await server.recv().catch((e) => {
        if (e.code === "closed") return null;
        throw e;
      });
      if (m === null) return;
      await server.send(m.data, m.host, m.port);
    }
  });
  const until = performance.now() + seconds * 1000;
  let count = 0, lost = 0;
  await scope(() => {
    for (let w = 0; w < 8; w++) {
      spawn(async () => {
        using c = udp.bind("127.0.0.1", 0);
        for (let i = 0; performance.now() < until; i++) {
          const msg = `sender ${w} seq ${i}`;
          await c.send(msg, "127.0.0.1", server.local.port);
          // Wait for this datagram's echo; a late echo of an earlier, lost-looking
          // one is skipped.
          for (;;) {
            const got = await c.recv({ timeout: 500 }).catch((e) => {
              if (e.code !== "timeout") throw e;
              return null;
            });
            if (got === null) {
              lost++;
              break;
            }
            if (new TextDecoder().decode(got.data) === msg) {
              count++;
              break;
            }
          }
        }
      });
    }
  });
  server.close();
  await echo;
  ops += count;
  return `${count} round trips (${(count / seconds).toFixed(0)}/s), ${lost} lost or late`;
}

let failed = false;
const t0 = performance.now();
try {
  await part("tcp integrity", () => integrity("tcp", smoke ? 64 * MiB : 1024 * MiB));
  await part("unix integrity", () => integrity("unix", smoke ? 16 * MiB : 256 * MiB));
  await part("reconnect churn", () => churn(smoke ? 2 : 20, 256));
  await part("read timeouts with late answers", () => lateAnswers(smoke ? 16 : 64));
  await part("udp ping-pong", () => udpPingPong(smoke ? 1 : 5));
} catch (err) {
  failed = true;
  console.error("socket stress FAILED:", err);
} finally {
  clearTimeout(watchdog);
}
const secs = (performance.now() - t0) / 1000;
console.log(
  `socket stress: ${failed ? "FAILED" : "ok"}, ${ops.toFixed(0)} ops in ${secs.toFixed(1)} s, ${
    (ops / secs).toFixed(0)
  } ops/s`,
);
if (failed) Deno.exit(1);

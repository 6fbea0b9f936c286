/**
 * Per-operation cost of lunet/socket reads and writes: 100 64-byte round trips
 * through a raw `Deno.Conn` echo server, by a raw `Deno.Conn` client and by
 * a lunet `Conn` (outside a task, inside a task, and with a timeout), on
 * each backend. The gap is what a lunet read + write adds per call.
 *
 *     deno bench -A bench/socket_bench.ts
 *
 * @module
 */
import { spawn } from "../mod.ts";
import { connect } from "../src/socket.ts";

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const port = (listener.addr as Deno.NetAddr).port;
(async () => {
  for await (const conn of listener) {
    (async () => {
      const buf = new Uint8Array(4096);
      try {
        for (let n; (n = await conn.read(buf)) !== null;) await conn.write(buf.subarray(0, n));
      } catch { /* closed at exit */ }
    })();
  }
})();

const msg = new Uint8Array(64).fill(1);
const raw = await Deno.connect({ hostname: "127.0.0.1", port });
const rawBuf = new Uint8Array(4096);
const lunetDeno = await connect("127.0.0.1", port, { backend: "deno" });
const lunetFfi = await connect("127.0.0.1", port, { backend: "ffi" }).catch(() => undefined);

const BATCH = 100;

async function rawRoundTrips(): Promise<void> {
  for (let i = 0; i < BATCH; i++) {
    await raw.write(msg);
    for (let got = 0; got < 64;) got += (await raw.read(rawBuf))!;
  }
}

async function lunetRoundTrips(
  conn: Awaited<ReturnType<typeof connect>>,
  opts?: { timeout: number },
): Promise<void> {
  for (let i = 0; i < BATCH; i++) {
    await conn.write(msg, opts);
    for (let got = 0; got < 64;) got += (await conn.read(opts))!.length;
  }
}

Deno.bench("raw Deno.Conn: 100 round trips", { group: "rt", baseline: true }, rawRoundTrips);
for (const [name, conn] of [["deno", lunetDeno], ["ffi", lunetFfi]] as const) {
  if (!conn) continue;
  Deno.bench(
    `lunet ${name}: outside a task`,
    { group: "rt" },
    async () => await lunetRoundTrips(conn),
  );
  Deno.bench(
    `lunet ${name}: inside a task`,
    { group: "rt" },
    async () => await spawn(() => lunetRoundTrips(conn)),
  );
  Deno.bench(
    `lunet ${name}: with { timeout }`,
    { group: "rt" },
    async () => await lunetRoundTrips(conn, { timeout: 10_000 }),
  );
}

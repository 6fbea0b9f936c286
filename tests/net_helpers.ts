/**
 * Shared by the socket tests, stress runs and load benchmarks: an echo
 * server on any lunet listener, and a byte-pattern round trip that checks
 * every byte.
 */
import { scope, spawn, type Task } from "../mod.ts";
import type { Conn, Listener } from "../src/socket.ts";

/**
 * Echoes every connection of `listener` until it is closed; await the task
 * to join. With `onError`, a connection's failure is handed to it instead
 * of failing the server.
 */
export function serveEcho(listener: Listener, onError?: (err: unknown) => void): Task<void> {
  return spawn(() =>
    scope(async () => {
      for await (const conn of listener) {
        spawn(async () => {
          try {
            for (let data; (data = await conn.read()) !== null;) await conn.write(data);
          } catch (err) {
            if (!onError) throw err;
            onError(err);
          } finally {
            conn.close();
          }
        });
      }
    }), { name: "echo-server" });
}

const PERIOD = 251; // prime, so chunk boundaries never line up with it
const CHUNK = 256 * 1024;
const table = new Uint8Array(CHUNK + PERIOD);
for (let i = 0; i < table.length; i++) table[i] = (i % PERIOD) * 7 + 3;

/** The pattern bytes for stream positions [pos, pos + len), len ≤ 256 KiB. */
export function patternAt(pos: number, len: number): Uint8Array {
  const phase = pos % PERIOD;
  return table.subarray(phase, phase + len);
}

/** Throws at the first byte of `chunk` that differs from the pattern at `pos`. */
export function checkPattern(chunk: Uint8Array, pos: number): void {
  let phase = pos % PERIOD;
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] !== table[phase]) {
      throw new Error(`byte ${pos + i}: got ${chunk[i]}, want ${table[phase]}`);
    }
    if (++phase === PERIOD) phase = 0;
  }
}

/**
 * Sends `total` pattern bytes through `conn` in 256 KiB writes while
 * reading them back, checking each byte; resolves with the bytes checked.
 */
export async function patternRoundTrip(conn: Conn, total: number): Promise<number> {
  const writer = spawn(async () => {
    for (let pos = 0; pos < total; pos += CHUNK) {
      await conn.write(patternAt(pos, Math.min(CHUNK, total - pos)));
    }
  }, { name: "pattern-writer" });
  let got = 0;
  while (got < total) {
    const chunk = await conn.read();
    if (chunk === null) throw new Error(`end of stream after ${got} of ${total} bytes`);
    checkPattern(chunk, got);
    got += chunk.length;
  }
  await writer;
  return got;
}

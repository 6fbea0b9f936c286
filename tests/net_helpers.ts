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

/** What a {@linkcode rawPeer} sends back for bytes it read. */
export interface PeerReply {
  /** Bytes to write back. */
  reply?: string;
  /** Then end the peer's side (the client reads the end of the stream). */
  end?: boolean;
}

/** A peer on Deno's own sockets, independent of the code under test. */
export interface RawPeer {
  port: number;
  /** Connections accepted so far. */
  accepted(): number;
  /** Connections still open (the client has not closed its side). */
  open(): number;
  /** Closes the listener and every connection, and waits for them. */
  close(): Promise<void>;
}

/**
 * A TCP peer on 127.0.0.1 for client tests: it reads each connection until
 * the client closes it, handing every chunk to `answer` (none: it never
 * answers, a stalled or silent server).
 */
export function rawPeer(answer?: (chunk: Uint8Array) => PeerReply | undefined): RawPeer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  let accepted = 0;
  const serve = async (conn: Deno.Conn) => {
    const buf = new Uint8Array(4096);
    try {
      for (let n; (n = await conn.read(buf)) !== null;) {
        const out = answer?.(buf.slice(0, n));
        if (out?.reply) await conn.write(new TextEncoder().encode(out.reply));
        if (out?.end) await conn.closeWrite();
      }
    } catch { /* reset by the client, or closed by close() */ }
    if (conns.delete(conn)) conn.close();
  };
  const serving: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      accepted++;
      conns.add(conn);
      serving.push(serve(conn));
    }
  })();
  return {
    port: listener.addr.port,
    accepted: () => accepted,
    open: () => conns.size,
    async close() {
      listener.close();
      await accepting;
      for (const conn of conns) conn.close();
      conns.clear();
      await Promise.all(serving);
    },
  };
}

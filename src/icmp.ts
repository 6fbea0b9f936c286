/**
 * lunet/icmp: ping over ICMP echo, IPv4 and IPv6, on the ffi backend
 * (`--allow-ffi`, Linux). {@linkcode ping} sends a series of echo requests
 * and reports each probe's round-trip time and a summary;
 * {@linkcode open} gives the {@linkcode IcmpSocket} underneath
 * (send/receive echo messages with identifier and sequence) for
 * traceroute-like tools.
 *
 * Sockets are unprivileged ICMP datagram sockets (`SOCK_DGRAM`) where the
 * sysctl `net.ipv4.ping_group_range` admits the process's group, and raw
 * sockets when running as root (or with `CAP_NET_RAW`). When neither is
 * allowed, opening fails with a `PermissionDenied` that names the sysctl;
 * without `--allow-ffi` (the deno backend, which has no ICMP sockets) it
 * says that ICMP needs `--allow-ffi`.
 *
 * @example Ping the loopback address
 * ```ts
 * import assert from "node:assert/strict";
 * import { ping } from "@lunet/lunet/icmp";
 * const result = await ping("127.0.0.1", { count: 3, interval: 20 });
 * assert.equal(result.received, 3);
 * assert.ok(result.avg! >= 0);
 * ```
 * @module
 */
import { lookup } from "./dns.ts";
import { PermissionDenied } from "./errors.ts";
import { sleep } from "./sleep.ts";
import { isEarlyWake, type WaitOptions } from "./_wait.ts";
import { defaultPayload, type IcmpSocket, icmpUnavailable, open } from "./_icmp_socket.ts";
import { ipFamily } from "./_icmp_packet.ts";

export type { WaitOptions } from "./_wait.ts";
export { type IcmpReply, IcmpSocket, type IcmpSocketOptions, open } from "./_icmp_socket.ts";

/**
 * Options of {@linkcode ping}. `deadline` and `signal` bound the whole run
 * (it then ends early with what it measured so far being lost: the wait
 * throws); `timeout` is the wait for each reply.
 *
 * @example
 * ```ts
 * import type { PingOptions } from "@lunet/lunet/icmp";
 * const opts: PingOptions = { count: 5, interval: 200, timeout: 500, size: 32 };
 * console.log(opts.count);
 * ```
 */
export interface PingOptions extends Omit<WaitOptions, "timeout"> {
  /** Echo requests to send (default 4). */
  count?: number;
  /** Milliseconds between requests (default 1000). */
  interval?: number;
  /** Milliseconds to wait for each reply (default 1000). */
  timeout?: number;
  /** Payload bytes per request (default 56, as ping(8)). */
  size?: number;
  /** Address family when `host` is a name (default: the first address found). */
  family?: 4 | 6;
  /** Socket kind (default `"auto"`: datagram where allowed, else raw). */
  kind?: "auto" | "dgram" | "raw";
}

/**
 * One probe of a {@linkcode ping} run.
 *
 * @example
 * ```ts
 * import type { PingProbe } from "@lunet/lunet/icmp";
 * const lost: PingProbe = { sequence: 3, rtt: null };
 * console.log(lost.rtt === null ? "lost" : "ok");
 * ```
 */
export interface PingProbe {
  /** Sequence number of the request. */
  sequence: number;
  /** Round-trip time in milliseconds, or `null` when no reply came in time. */
  rtt: number | null;
  /** IPv4 TTL of the reply (raw IPv4 sockets only). */
  ttl?: number;
}

/**
 * What a {@linkcode ping} run measured; times in milliseconds, `null`
 * when no reply came.
 *
 * @example
 * ```ts
 * import type { PingResult } from "@lunet/lunet/icmp";
 * const line = (r: PingResult) => `${r.transmitted} sent, ${r.received} received, ${r.loss * 100}% loss`;
 * console.log(line({ host: "h", address: "127.0.0.1", family: 4, kind: "raw", transmitted: 2, received: 2, loss: 0, min: 1, avg: 1, max: 1, mdev: 0, probes: [] }));
 * ```
 */
export interface PingResult {
  /** The host as given. */
  host: string;
  /** The address pinged. */
  address: string;
  /** 4 or 6. */
  family: 4 | 6;
  /** The socket kind used. */
  kind: "dgram" | "raw";
  /** Requests sent. */
  transmitted: number;
  /** Replies received. */
  received: number;
  /** Share of requests without a reply, 0..1. */
  loss: number;
  /** Fastest round trip. */
  min: number | null;
  /** Mean round trip. */
  avg: number | null;
  /** Slowest round trip. */
  max: number | null;
  /** Mean deviation of the round trips (as ping(8) reports it). */
  mdev: number | null;
  /** Every probe, in order. */
  probes: PingProbe[];
}

async function resolve(
  host: string,
  family: 4 | 6 | undefined,
  opts: WaitOptions,
): Promise<[string, 4 | 6]> {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const literal = ipFamily(bare);
  if (literal) {
    if (family && family !== literal) {
      throw new TypeError(`ping ${host}: not an IPv${family} address`);
    }
    return [bare, literal];
  }
  const addrs = await lookup(bare, opts);
  const pick = addrs.find((a) => (family ? ipFamily(a) === family : ipFamily(a) !== undefined));
  if (!pick) throw new TypeError(`ping ${host}: no IPv${family ?? "4/6"} address`);
  return [pick, ipFamily(pick)!];
}

function positiveInt(n: number, name: string, min = 1): number {
  if (!Number.isInteger(n) || n < min) {
    throw new RangeError(`ping: ${name} must be an integer >= ${min}, got ${n}`);
  }
  return n;
}

/**
 * Pings `host` (an IP address or a name): sends `count` echo requests
 * `interval` ms apart, waits up to `timeout` ms for each reply, and
 * returns the probes with their round-trip times and a summary. A reply
 * whose payload differs from the request's is not counted.
 *
 * @throws {PermissionDenied} when ICMP sockets are not allowed (naming the
 * sysctl), or FFI is not (`--allow-ffi`).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ping } from "@lunet/lunet/icmp";
 * const r = await ping("::1", { count: 2, interval: 20 });
 * assert.equal(r.transmitted - r.received, 0);
 * ```
 */
export async function ping(host: string, opts: PingOptions = {}): Promise<PingResult> {
  const unavailable = icmpUnavailable(`ping ${host}`);
  if (unavailable) throw unavailable;
  const count = positiveInt(opts.count ?? 4, "count");
  const interval = positiveInt(opts.interval ?? 1000, "interval", 0);
  const timeout = positiveInt(opts.timeout ?? 1000, "timeout");
  const size = positiveInt(opts.size ?? 56, "size", 0);
  const run: WaitOptions = { deadline: opts.deadline, signal: opts.signal };
  const [address, family] = await resolve(host, opts.family, run);
  const net = Deno.permissions.querySync({ name: "net", host: address }).state;
  if (net !== "granted") {
    throw new PermissionDenied(`ping ${address}: permission denied (needs --allow-net)`);
  }
  const sock = open(family, { kind: opts.kind });
  try {
    const probes: PingProbe[] = [];
    const payload = defaultPayload(size);
    for (let seq = 1; seq <= count; seq++) {
      const sentAt = performance.now();
      await sock.send(address, seq, payload);
      probes.push(await awaitReply(sock, seq, payload, sentAt, timeout, run));
      if (seq < count) {
        const wait = interval - (performance.now() - sentAt);
        if (wait > 0) await sleep(wait, run);
      }
    }
    return summarize(host, address, family, sock.kind, probes);
  } finally {
    sock.close();
  }
}

async function awaitReply(
  sock: IcmpSocket,
  seq: number,
  payload: Uint8Array,
  sentAt: number,
  timeout: number,
  run: WaitOptions,
): Promise<PingProbe> {
  const deadline = Date.now() + timeout;
  for (;;) {
    let reply;
    try {
      reply = await sock.recv({
        deadline: run.deadline === undefined ? deadline : Math.min(deadline, run.deadline),
        signal: run.signal,
      });
    } catch (err) {
      // The probe's own timeout: lost. The run's deadline or signal: thrown.
      if (isEarlyWake(err) && Date.now() >= deadline && !run.signal?.aborted) {
        if (run.deadline === undefined || run.deadline > Date.now()) {
          return { sequence: seq, rtt: null };
        }
      }
      throw err;
    }
    if (reply.sequence !== seq || (reply.type !== 0 && reply.type !== 129)) continue;
    if (!sameBytes(reply.payload, payload)) continue;
    const probe: PingProbe = { sequence: seq, rtt: performance.now() - sentAt };
    if (reply.ttl !== undefined) probe.ttl = reply.ttl;
    return probe;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function summarize(
  host: string,
  address: string,
  family: 4 | 6,
  kind: "dgram" | "raw",
  probes: PingProbe[],
): PingResult {
  const rtts = probes.flatMap((p) => (p.rtt === null ? [] : [p.rtt]));
  const n = rtts.length;
  const avg = n ? rtts.reduce((a, b) => a + b, 0) / n : null;
  const mdev = n ? Math.sqrt(rtts.reduce((a, r) => a + (r - avg!) ** 2, 0) / n) : null;
  return {
    host,
    address,
    family,
    kind,
    transmitted: probes.length,
    received: n,
    loss: probes.length ? (probes.length - n) / probes.length : 0,
    min: n ? Math.min(...rtts) : null,
    avg,
    max: n ? Math.max(...rtts) : null,
    mdev,
    probes,
  };
}

/**
 * Name resolution. {@linkcode resolve} asks DNS servers for records (over
 * `Deno.resolveDns`); {@linkcode lookup} finds the addresses of a host the
 * way the system does (hosts file, then DNS), which is what `connect` uses.
 * Both are cancellable and honour `{ timeout, deadline, signal }`.
 *
 * @example Find the addresses of a host
 * ```ts
 * import * as dns from "@lunet/lunet/dns";
 * const addrs = await dns.lookup("localhost", { timeout: 2000 });
 * if (!addrs.includes("127.0.0.1") && !addrs.includes("::1")) throw new Error(`${addrs}`);
 * ```
 *
 * @example Ask the system's DNS servers (needs a network, so not run here)
 * ```ts ignore
 * import * as dns from "@lunet/lunet/dns";
 * const [ip] = await dns.resolve("example.com", "A", { timeout: 2000 });
 * ```
 * @module
 */
import { fromDenoError, NotFound } from "./errors.ts";
import { race, type WaitOptions } from "./_wait.ts";

/**
 * A DNS record type that {@linkcode resolve} understands.
 *
 * @example
 * ```ts
 * import type { RecordType } from "@lunet/lunet/dns";
 * const types: RecordType[] = ["A", "AAAA", "MX", "TXT"];
 * if (types.length !== 4) throw new Error("four types");
 * ```
 */
export type RecordType = Deno.RecordType;

/**
 * The shape of one record of type `T` as {@linkcode resolve} returns it:
 * an address or name string for A, AAAA, CNAME, NS, PTR and ANAME, the
 * text chunks for TXT, and Deno's record objects for the others.
 *
 * @example
 * ```ts
 * import type { DnsRecord } from "@lunet/lunet/dns";
 * const mx: DnsRecord<"MX"> = { preference: 10, exchange: "mail.example." };
 * const a: DnsRecord<"A"> = "192.0.2.1";
 * const txt: DnsRecord<"TXT"> = ["v=spf1", " -all"];
 * if (mx.preference !== 10 || a.length === 0 || txt.join("") !== "v=spf1 -all") throw new Error();
 * ```
 */
export type DnsRecord<T extends RecordType> = T extends "MX" ? Deno.MxRecord
  : T extends "TXT" ? string[]
  : T extends "SRV" ? Deno.SrvRecord
  : T extends "CAA" ? Deno.CaaRecord
  : T extends "NAPTR" ? Deno.NaptrRecord
  : T extends "SOA" ? Deno.SoaRecord
  : string;

/**
 * Options for {@linkcode resolve}: a wait budget plus a resolver to ask.
 *
 * @example
 * ```ts
 * import type { ResolveOptions } from "@lunet/lunet/dns";
 * const opts: ResolveOptions = { nameServer: { ipAddr: "127.0.0.1", port: 53 }, timeout: 500 };
 * if (opts.nameServer?.ipAddr !== "127.0.0.1") throw new Error("a local resolver");
 * ```
 */
export interface ResolveOptions extends WaitOptions {
  /** The DNS server to ask (`port` 53 unless given); unset, the system's. */
  nameServer?: { ipAddr: string; port?: number };
}

function isNxDomain(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound ||
    (err instanceof Error && /no record|NXDomain|not found/i.test(err.message));
}

/**
 * Looks up DNS records of `type` (default `"A"`) for `name`.
 *
 * @param name The name to look up.
 * @param type The record type.
 * @param opts The DNS server to ask, and the wait's budget and signal.
 * @returns The records, each shaped as {@linkcode DnsRecord} says.
 * @throws {NotFound} when the name does not exist (NXDOMAIN) or has no
 * record of that type; the message names the query.
 * @throws {TimeoutError} when no answer comes within the budget.
 * @throws {Cancelled} when the task is cancelled or the signal aborts.
 *
 * @example Ask a DNS server on 127.0.0.1 (a minimal one that answers once)
 * ```ts
 * import { spawn } from "@lunet/lunet";
 * import { resolve } from "@lunet/lunet/dns";
 * import * as udp from "@lunet/lunet/udp";
 * const server = udp.bind("127.0.0.1", 0);
 * const answering = spawn(async () => {
 *   const { data: query, host, port } = await server.recv();
 *   let end = 12; // the question's name starts after the 12-byte header
 *   while (query[end] !== 0) end += query[end] + 1;
 *   end += 5; // the name's final 0, its type and class
 *   const answer = [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 1, 2, 3]; // A 10.1.2.3
 *   const reply = new Uint8Array([...query.subarray(0, end), ...answer]);
 *   reply.set([0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0], 2); // a response, one answer
 *   await server.send(reply, host, port);
 * });
 * const nameServer = { ipAddr: "127.0.0.1", port: server.local.port };
 * const ips = await resolve("db.internal", "A", { nameServer, timeout: 2000 });
 * await answering;
 * server.close();
 * if (ips.join() !== "10.1.2.3") throw new Error(`${ips}`);
 * ```
 *
 * @example A server that never answers
 * ```ts
 * import { TimeoutError } from "@lunet/lunet";
 * import { resolve } from "@lunet/lunet/dns";
 * import * as udp from "@lunet/lunet/udp";
 * const silent = udp.bind("127.0.0.1", 0);
 * const nameServer = { ipAddr: "127.0.0.1", port: silent.local.port };
 * const err = await resolve("db.internal", "A", { nameServer, timeout: 50 })
 *   .then(() => undefined, (e) => e);
 * silent.close();
 * if (!(err instanceof TimeoutError)) throw new Error(`expected a timeout, got ${err}`);
 * ```
 */
export async function resolve<T extends RecordType = "A">(
  name: string,
  type: T = "A" as T,
  opts?: ResolveOptions,
): Promise<DnsRecord<T>[]> {
  const what = `resolve ${name} ${type}`;
  const ac = new AbortController();
  const query = Deno.resolveDns(name, type as "A", {
    nameServer: opts?.nameServer,
    signal: ac.signal,
  });
  try {
    return await race(what, query, opts) as DnsRecord<T>[];
  } catch (err) {
    ac.abort();
    query.catch(() => {});
    if (isNxDomain(err)) throw new NotFound(`${what}: no such name or record`, { cause: err });
    throw fromDenoError(err, "resolve", `${name} ${type}`);
  }
}

/**
 * Returns the IP addresses of `host`, as the system resolver sees them
 * (hosts file included), IPv6 and IPv4 in the system's preferred order,
 * each address once.
 *
 * @param host The host name (an IP address comes back as it is).
 * @param opts Timeout, deadline and abort signal of the lookup.
 * @returns The addresses, at least one.
 * @throws {NotFound} when the host is unknown.
 * @throws {TimeoutError} when the lookup does not finish in time.
 * @throws {Cancelled} when the task is cancelled or the signal aborts.
 *
 * @example
 * ```ts
 * import { lookup } from "@lunet/lunet/dns";
 * const addrs = await lookup("localhost"); // e.g. ["::1", "127.0.0.1"]
 * if (!addrs.includes("127.0.0.1") && !addrs.includes("::1")) throw new Error(`${addrs}`);
 * const [ip] = await lookup("127.0.0.1");
 * if (ip !== "127.0.0.1") throw new Error(ip);
 * ```
 */
export async function lookup(host: string, opts?: WaitOptions): Promise<string[]> {
  if (host === "") throw new TypeError("lookup: the host name is empty");
  const { lookup: sysLookup } = await import("node:dns/promises");
  const query = sysLookup(host, { all: true });
  let found: { address: string }[];
  try {
    found = await race(`lookup ${host}`, query, opts);
  } catch (err) {
    query.catch(() => {});
    const code = (err as { code?: string }).code;
    if (code === "ENOTFOUND" || code === "EAI_NONAME" || code === "ENODATA") {
      throw new NotFound(`lookup ${host}: no such host`, { cause: err });
    }
    throw fromDenoError(err, "lookup", host);
  }
  if (found.length === 0) throw new NotFound(`lookup ${host}: no address`);
  return [...new Set(found.map((a) => a.address))];
}

/**
 * Name resolution. {@linkcode resolve} asks DNS servers for records (over
 * `Deno.resolveDns`); {@linkcode lookup} finds the addresses of a host the
 * way the system does (hosts file, then DNS), which is what `connect` uses.
 * Both are cancellable and honour `{ timeout, deadline, signal }`.
 *
 * @example
 * ```ts ignore
 * import * as dns from "@lunet/lunet/dns";
 * console.log(await dns.lookup("localhost"));
 * console.log(await dns.resolve("example.com", "A", { timeout: 2000 }));
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
 * const type: RecordType = "AAAA";
 * console.log(type);
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
 * console.log(mx.exchange);
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
 * console.log(opts.timeout);
 * ```
 */
export interface ResolveOptions extends WaitOptions {
  /** The DNS server to ask (default: the system's). */
  nameServer?: { ipAddr: string; port?: number };
}

function isNxDomain(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound ||
    (err instanceof Error && /no record|NXDomain|not found/i.test(err.message));
}

/**
 * Looks up DNS records of `type` (default `"A"`) for `name`. A name that
 * does not exist (NXDOMAIN, or no record of that type) throws `NotFound`
 * naming the query.
 *
 * @example
 * ```ts ignore
 * import { resolve } from "@lunet/lunet/dns";
 * const [ip] = await resolve("example.com", "A", { timeout: 2000 });
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
 * (hosts file included), IPv6 and IPv4 in the system's preferred order.
 * An unknown host throws `NotFound`.
 *
 * @example
 * ```ts
 * import { lookup } from "@lunet/lunet/dns";
 * console.log(await lookup("localhost")); // e.g. ["::1", "127.0.0.1"]
 * ```
 */
export async function lookup(host: string, opts?: WaitOptions): Promise<string[]> {
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
  return [...new Set(found.map((a) => a.address))];
}

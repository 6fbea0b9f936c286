/**
 * Dialing: a connect target resolved to the addresses to try, and the
 * first of them that connects on a backend. Shared by lunet/socket and
 * lunet/tls.
 *
 * @module
 */
import { abandon, current, isEarlyWake, race, type WaitOptions } from "./_wait.ts";
import { checkPort, formatAddr, isIpLiteral, stripBrackets } from "./_address.ts";
import type { Backend, SocketAddr, StreamHandle } from "./_backend/types.ts";
import { lookup } from "./dns.ts";

/**
 * Resolves a connect target to addresses to try in order: a path (a host
 * containing `/`), an IP literal, or a name looked up like the system does.
 */
export async function resolveTarget(
  host: string,
  port: number | undefined,
  opts: WaitOptions | undefined,
): Promise<SocketAddr[]> {
  if (host === "") throw new TypeError("connect: the host name is empty");
  if (host.includes("/")) return [{ transport: "unix", path: host }];
  const name = stripBrackets(host);
  checkPort("connect", name, port);
  const ips = isIpLiteral(name) ? [name] : await lookup(name, opts);
  return ips.map((hostname) => ({ transport: "tcp", hostname, port }));
}

/**
 * Connects each resolved address in turn and returns the first stream
 * that connects (or the last error). A timeout or cancellation ends the
 * attempts at once.
 */
export async function connectHandle(
  backend: Backend,
  addrs: SocketAddr[],
  opts: WaitOptions | undefined,
): Promise<StreamHandle> {
  let last: unknown;
  for (const addr of addrs) {
    // Only a wait that can give up (a task, a budget or a signal) needs one.
    const giveUp = opts !== undefined || current() !== undefined
      ? new AbortController()
      : undefined;
    const pending = backend.connect(addr, giveUp?.signal);
    try {
      return await race("connect " + formatAddr(addr), pending, opts);
    } catch (err) {
      // A connect given up on closes its socket now; one that completes
      // all the same (a backend without `signal`) is closed then.
      giveUp?.abort();
      abandon(pending.then(closeHandle));
      last = err;
      if (isEarlyWake(err)) throw err;
    }
  }
  throw last;
}

function closeHandle(h: StreamHandle): void {
  h.close();
}

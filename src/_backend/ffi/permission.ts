/**
 * Deno's permissions, enforced by the FFI backend: its sockets are made
 * with libc, out of Deno's sight, so before every bind, connect and send
 * it asks Deno whether the operation would be allowed (`--allow-net`
 * with its allow-list for TCP and UDP addresses; for a Unix socket path,
 * net access to `unix:<path>`, then `--allow-read` and `--allow-write`)
 * and fails as Deno would. The
 * answer is asked each time, never kept: a permission may be revoked. It
 * never prompts.
 *
 * @module
 */
import { fromDenoError } from "../../errors.ts";
import { formatAddr } from "../../_address.ts";
import type { SocketAddr } from "../types.ts";

function granted(desc: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(desc).state === "granted";
}

/**
 * Throws `PermissionDenied`, with the message Deno gives for the same
 * refusal, unless Deno's permissions allow `op` on `addr`: net access to
 * `host:port` (`[v6]:port`), or for a Unix path net access to
 * `unix:<path>` and read and write access to the path.
 *
 * @example
 * ```ts ignore
 * checkPermission("connect", { transport: "tcp", hostname: "127.0.0.1", port: 80 });
 * ```
 */
export function checkPermission(op: string, addr: SocketAddr): void {
  const target = formatAddr(addr);
  if (addr.transport !== "unix") return checkNet(op, target);
  const socket = `unix:${target}`;
  if (!granted({ name: "net", host: socket })) {
    deny(op, target, `net access to "${socket}"`, "net");
  }
  for (const name of ["read", "write"] as const) {
    if (!granted({ name, path: target })) deny(op, target, `${name} access to "${target}"`, name);
  }
}

/**
 * Like {@linkcode checkPermission} for an address already formatted as
 * Deno names net permissions (`127.0.0.1:53`, `[::1]:53`).
 *
 * @example
 * ```ts ignore
 * checkNet("send", "127.0.0.1:53");
 * ```
 */
export function checkNet(op: string, target: string): void {
  if (!granted({ name: "net", host: target })) deny(op, target, `net access to "${target}"`, "net");
}

function deny(op: string, target: string, what: string, flag: string): never {
  const refusal = new Deno.errors.NotCapable(
    `Requires ${what}, run again with the --allow-${flag} flag`,
  );
  throw fromDenoError(refusal, op, target);
}

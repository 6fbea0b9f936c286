/**
 * Picks the socket I/O backend: an explicit choice wins, then the
 * `LUNET_BACKEND` environment variable (`deno` or `ffi`), then `ffi` on
 * Linux when `--allow-ffi` and unrestricted `--allow-net` are granted,
 * else `deno`.
 *
 * @module
 */
import { readEnv } from "../_env.ts";
import { denoBackend } from "./deno.ts";
import { ffiBackend, ffiSupported } from "./ffi/mod.ts";
import type { Backend } from "./types.ts";

/** The name of a socket I/O backend. */
export type BackendName = Backend["name"];

const fromEnv = readEnv("LUNET_BACKEND");
const backends: Partial<Record<BackendName, Backend>> = {
  deno: denoBackend,
  ...(Deno.build.os === "linux" ? { ffi: ffiBackend } : {}),
};

// Whether every net address is allowed. With an allow-list (or none) the
// default is the deno backend, where Deno enforces the list itself; the
// ffi backend, when named, asks Deno before every bind, connect and send.
function netGranted(): boolean {
  return Deno.permissions.querySync({ name: "net" }).state === "granted";
}

/**
 * Returns the backend named by `choice`, else by `LUNET_BACKEND`, else the
 * `ffi` backend when it can run (Linux, `--allow-ffi`) and every net
 * address is allowed (`--allow-net` without an allow-list), else the
 * `deno` backend. Throws when the named backend is not available.
 *
 * @example
 * ```ts ignore
 * const backend = selectBackend(); // LUNET_BACKEND, else ffi with --allow-ffi --allow-net, else deno
 * ```
 */
export function selectBackend(choice?: BackendName | Backend): Backend {
  if (typeof choice === "object") return choice;
  const name = choice ?? fromEnv ?? (ffiSupported() && netGranted() ? "ffi" : "deno");
  const backend = backends[name as BackendName];
  if (!backend) {
    throw new Error(
      `socket backend "${name}" is not available (known: ${Object.keys(backends).join(", ")})`,
    );
  }
  return backend;
}

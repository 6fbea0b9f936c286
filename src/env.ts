/**
 * Reads a lunet setting from the environment without prompting: when the
 * process lacks `--allow-env` for that variable, the setting counts as unset
 * (see {@linkcode envUnreadable} for saying so).
 *
 * @example
 * ```ts ignore
 * import { readEnv } from "./env.ts";
 * const trace = readEnv("LUNET_TRACE") === "1";
 * ```
 */
export function readEnv(name: string): string | undefined {
  return envUnreadable(name) === undefined ? Deno.env.get(name) : undefined;
}

/**
 * Why the variable `name` cannot be read (no `--allow-env` for it), or
 * `undefined` when it can: for messages about a setting that was ignored.
 *
 * @example
 * ```ts ignore
 * import { envUnreadable } from "./env.ts";
 * const why = envUnreadable("LUNET_ALLOW_PUBLIC"); // "needs --allow-env=LUNET_ALLOW_PUBLIC"
 * ```
 */
export function envUnreadable(name: string): string | undefined {
  let state;
  try {
    state = Deno.permissions.querySync({ name: "env", variable: name }).state;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  return state === "granted" ? undefined : `needs --allow-env=${name}`;
}

/**
 * True when the variable is set to `1`, `true` or `yes`.
 *
 * @example
 * ```ts ignore
 * import { envFlag } from "./env.ts";
 * if (envFlag("LUNET_ALLOW_PUBLIC")) console.log("public binds allowed");
 * ```
 */
export function envFlag(name: string): boolean {
  const value = readEnv(name)?.toLowerCase();
  return value === "1" || value === "true" || value === "yes";
}

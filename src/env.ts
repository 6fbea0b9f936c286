/**
 * Reads a lunet setting from the environment without prompting: when the
 * process lacks `--allow-env` for that variable, the setting counts as unset.
 *
 * @example
 * ```ts ignore
 * import { readEnv } from "./env.ts";
 * const trace = readEnv("LUNET_TRACE") === "1";
 * ```
 */
export function readEnv(name: string): string | undefined {
  try {
    const state = Deno.permissions.querySync({ name: "env", variable: name }).state;
    return state === "granted" ? Deno.env.get(name) : undefined;
  } catch {
    return undefined;
  }
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

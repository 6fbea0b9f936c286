/**
 * Reads a lunet setting from the environment without prompting: when the
 * process lacks `--allow-env` for that variable, the setting counts as unset
 * (see {@linkcode envUnreadable} for saying so).
 *
 * @example
 * ```ts
 * import { readEnv } from "./_env.ts";
 * Deno.env.set("LUNET_DEMO_SETTING", "42");
 * const value = readEnv("LUNET_DEMO_SETTING");
 * Deno.env.delete("LUNET_DEMO_SETTING");
 * if (value !== "42") throw new Error(`got ${value}`);
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
 * ```ts
 * import { envUnreadable } from "./_env.ts";
 * // With --allow-env the variable is readable; without it, the result
 * // is "needs --allow-env=LUNET_ALLOW_PUBLIC".
 * const why = envUnreadable("LUNET_ALLOW_PUBLIC");
 * const granted = (await Deno.permissions.query({ name: "env" })).state === "granted";
 * if (granted && why !== undefined) throw new Error(why);
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
 * ```ts
 * import { envFlag } from "./_env.ts";
 * Deno.env.set("LUNET_DEMO_FLAG", "Yes");
 * const on = envFlag("LUNET_DEMO_FLAG");
 * Deno.env.set("LUNET_DEMO_FLAG", "0");
 * const off = envFlag("LUNET_DEMO_FLAG");
 * Deno.env.delete("LUNET_DEMO_FLAG");
 * if (!on || off) throw new Error(`on=${on} off=${off}`);
 * ```
 */
export function envFlag(name: string): boolean {
  const value = readEnv(name)?.toLowerCase();
  return value === "1" || value === "true" || value === "yes";
}

/**
 * The connection settings of the MySQL and PostgreSQL drivers.
 *
 * @module
 */
import type { ResolvedServerConfig, ServerConfig } from "./_types.ts";

/**
 * Merges a connection URL with explicit settings and the driver's
 * defaults.
 *
 * @example
 * ```ts ignore
 * resolveServerConfig({ url: "postgres://u:p@h:5433/db", pool: 4 }, { port: 5432, user: "postgres" });
 * // { host: "h", port: 5433, user: "u", password: "p", database: "db", pool: 4, connectTimeout: 10000 }
 * ```
 */
export function resolveServerConfig(
  config: ServerConfig | string,
  defaults: { port: number; user: string },
): ResolvedServerConfig {
  const cfg = typeof config === "string" ? { url: config } : config;
  const url = cfg.url ? new URL(cfg.url) : undefined;
  const dec = (s: string | undefined) => (s ? decodeURIComponent(s) : undefined);
  const database = cfg.database ?? dec(url?.pathname.slice(1));
  const pool = cfg.pool ?? Number(url?.searchParams.get("pool") ?? 10);
  return {
    host: cfg.host ?? (url?.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1"),
    port: cfg.port ?? (url?.port ? Number(url.port) : defaults.port),
    user: cfg.user ?? dec(url?.username) ?? defaults.user,
    password: cfg.password ?? dec(url?.password) ?? "",
    database: database || "",
    pool,
    connectTimeout: cfg.connectTimeout ?? 10_000,
  };
}

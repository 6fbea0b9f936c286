/**
 * Driver settings: the MySQL and PostgreSQL ones merged from a URL and
 * fields, and the checks every driver's `open()` runs on what it was
 * given, so bad settings are refused with a message naming the driver and
 * the setting before any connection is tried.
 *
 * @module
 */
import { shown } from "../src/_shown.ts";
import type { ResolvedServerConfig, ServerConfig } from "./_types.ts";

/** What a server driver's settings default to, and the URL schemes it takes. */
export interface ServerDefaults {
  /** The driver's name, which starts every message. */
  driver: string;
  /** The URL schemes it takes, e.g. `["postgres:", "postgresql:"]`. */
  schemes: readonly string[];
  port: number;
  user: string;
  /** The URL query parameter that may name a Unix socket's path (`host` for libpq's URLs). */
  socketParam: string;
}

/**
 * Merges a connection URL with explicit settings and the driver's
 * defaults, checking each value.
 *
 * @example
 * ```ts ignore
 * resolveServerConfig({ url: "postgres://u:p@h:5433/db", pool: 4 }, {
 *   driver: "postgres", schemes: ["postgres:"], port: 5432, user: "postgres", socketParam: "host",
 * });
 * // { host: "h", port: 5433, user: "u", password: "p", database: "db", pool: 4, connectTimeout: 10000 }
 * ```
 */
export function resolveServerConfig(
  config: ServerConfig | string,
  defaults: ServerDefaults,
): ResolvedServerConfig {
  const what = defaults.driver;
  const cfg = settingsOf<ServerConfig>(config, "url", what);
  const url = cfg.url === undefined ? undefined : parseUrl(cfg.url, defaults.schemes, what);
  const dec = (s: string | undefined) => (s ? decodeURIComponent(s) : undefined);
  const database = cfg.database ?? dec(url?.pathname.slice(1));
  const poolParam = url?.searchParams.get("pool");
  return {
    host: checkHost(cfg.host ?? (url && urlHost(url, defaults.socketParam) || "127.0.0.1"), what),
    port: checkPort(cfg.port ?? (url?.port ? Number(url.port) : defaults.port), what),
    user: cfg.user ?? dec(url?.username) ?? defaults.user,
    password: cfg.password ?? dec(url?.password) ?? "",
    database: database || "",
    pool: checkCount("pool", cfg.pool ?? numberParam(poolParam) ?? 10, what, 1),
    connectTimeout: checkMillis("connectTimeout", cfg.connectTimeout ?? 10_000, what),
  };
}

/**
 * The settings object of `config`: a string stands for its `key` (a URL
 * or a path); anything else but an object is a TypeError.
 *
 * @example
 * ```ts ignore
 * settingsOf("redis://127.0.0.1:6379", "url", "redis"); // { url: "redis://127.0.0.1:6379" }
 * ```
 */
export function settingsOf<T extends object>(
  config: unknown,
  key: "url" | "path",
  what: string,
): T {
  if (typeof config === "string") return { [key]: config } as T;
  if (typeof config !== "object" || config === null) {
    throw new TypeError(
      `${what}: settings must be a ${key === "url" ? "URL" : "path"} string or an object, got ${
        shown(config)
      }`,
    );
  }
  return config as T;
}

/**
 * Parses a connection URL of one of `schemes`. The message of a URL that
 * does not parse repeats it with its password masked.
 *
 * @example
 * ```ts ignore
 * parseUrl("mysql://root@127.0.0.1/test", ["mysql:"], "mysql").hostname; // "127.0.0.1"
 * ```
 */
export function parseUrl(raw: unknown, schemes: readonly string[], what: string): URL {
  if (typeof raw !== "string") {
    throw new TypeError(`${what}: url must be a string, got ${shown(raw)}`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError(`${what}: invalid URL "${raw.replace(/(\/\/[^/:@]*:)[^/@]*@/, "$1***@")}"`);
  }
  if (!schemes.includes(url.protocol)) {
    throw new TypeError(`${what}: URL scheme "${url.protocol}" is not ${schemes.join(" or ")}`);
  }
  return url;
}

/**
 * The host a URL names, `""` if none: a Unix socket's path given as
 * `?<socketParam>=` or as the percent-encoded host, else the host without
 * an IPv6 literal's brackets.
 *
 * @example
 * ```ts ignore
 * urlHost(new URL("postgres:///db?host=/run/postgresql"), "host"); // "/run/postgresql"
 * urlHost(new URL("mysql://root@%2Frun%2Fmysqld%2Fmysqld.sock/db"), "socket"); // "/run/mysqld/mysqld.sock"
 * urlHost(new URL("redis://[::1]:6379"), "socket"); // "::1"
 * ```
 */
export function urlHost(url: URL, socketParam: string): string {
  const path = url.searchParams.get(socketParam);
  if (path) return path;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return /^%2f/i.test(host) ? decodeURIComponent(host) : host;
}

/**
 * `port` when it is a TCP port (an integer from 1 to 65535), else a RangeError.
 *
 * @example
 * ```ts ignore
 * checkPort(5432, "postgres"); // 5432
 * ```
 */
export function checkPort(port: unknown, what: string): number {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`${what}: port must be an integer from 1 to 65535, got ${shown(port)}`);
  }
  return port;
}

/**
 * `host` when it is a non-empty string, else a TypeError.
 *
 * @example
 * ```ts ignore
 * checkHost("127.0.0.1", "redis"); // "127.0.0.1"
 * ```
 */
export function checkHost(host: unknown, what: string): string {
  if (typeof host !== "string" || host === "") {
    throw new TypeError(`${what}: host must be a non-empty string, got ${shown(host)}`);
  }
  return host;
}

/**
 * `value` when it is an integer of at least `min`, else a RangeError
 * naming the setting.
 *
 * @example
 * ```ts ignore
 * checkCount("pool", 4, "mysql", 1); // 4
 * ```
 */
export function checkCount(name: string, value: unknown, what: string, min: 0 | 1): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    const kind = min === 1 ? "a positive integer" : "an integer from 0";
    throw new RangeError(`${what}: ${name} must be ${kind}, got ${shown(value)}`);
  }
  return value;
}

/**
 * `value` when it is a finite number of milliseconds (from 0, or above 0
 * when `positive`), else a RangeError naming the setting.
 *
 * @example
 * ```ts ignore
 * checkMillis("connectTimeout", 5000, "redis"); // 5000
 * ```
 */
export function checkMillis(name: string, value: unknown, what: string, positive = false): number {
  if (
    typeof value !== "number" || !Number.isFinite(value) || value < 0 || (positive && value === 0)
  ) {
    const kind = positive ? "a positive number of milliseconds" : "a number of milliseconds from 0";
    throw new RangeError(`${what}: ${name} must be ${kind}, got ${shown(value)}`);
  }
  return value;
}

/**
 * A number given in a URL's query: `undefined` when absent, else its
 * number, or the text itself when it is not one (for the check to show).
 *
 * @example
 * ```ts ignore
 * numberParam(new URL("mysql://h/?pool=4").searchParams.get("pool")); // 4
 * ```
 */
export function numberParam(param: string | null | undefined): number | string | undefined {
  if (param === null || param === undefined) return undefined;
  const n = Number(param);
  return param.trim() === "" || Number.isNaN(n) ? param : n;
}

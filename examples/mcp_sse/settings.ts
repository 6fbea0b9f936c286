/**
 * The server's settings from the environment, read without prompting (a
 * variable the process may not read counts as unset): `MCP_HOST`
 * (127.0.0.1), `MCP_PORT` (8080), `MCP_DB` (`mcp_notes.db`),
 * `MCP_SESSION_TTL` (ms), `MCP_CONFORMANCE=1` (also offer the conformance
 * suite's fixtures), `MCP_STATE_SECRET` (signs the `requestState` of
 * multi round-trip requests; the same on every instance behind a load
 * balancer), `TAVILY_API_KEY` and `TAVILY_API_URL` (`web_search`).
 *
 * @example
 * ```ts ignore
 * import { readSettings } from "./settings.ts";
 * const { host, port } = readSettings();
 * ```
 * @module
 */
import type { WebSearchOptions } from "./tools/web_search.ts";
import { TAVILY_SEARCH_URL } from "./tools/web_search.ts";

/** The settings. */
export interface Settings {
  /** Address to bind. */
  host: string;
  /** Port (0 in smoke mode picks a free one). */
  port: number;
  /** The SQLite file of the notes. */
  dbPath: string | undefined;
  /** Session idle time to live, ms. */
  sessionTtl: number | undefined;
  /** Offer the conformance suite's fixtures. */
  conformance: boolean;
  /** Signs the `requestState` of multi round-trip requests (stateless revision). */
  stateSecret: string | undefined;
  /** `web_search` settings, when a key is set. */
  webSearch: WebSearchOptions | undefined;
}

/** Reads one variable; unset when it may not be read. */
export function readEnv(name: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
      return undefined;
    }
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** The settings, with `defaultPort` when `MCP_PORT` is unset. */
export function readSettings(defaultPort = 8080): Settings {
  const ttl = readEnv("MCP_SESSION_TTL");
  const apiKey = readEnv("TAVILY_API_KEY");
  return {
    host: readEnv("MCP_HOST") || "127.0.0.1",
    port: Number(readEnv("MCP_PORT") || defaultPort),
    dbPath: readEnv("MCP_DB") || undefined,
    sessionTtl: ttl ? Number(ttl) : undefined,
    conformance: readEnv("MCP_CONFORMANCE") === "1",
    stateSecret: readEnv("MCP_STATE_SECRET") || undefined,
    webSearch: apiKey
      ? { apiKey, endpoint: readEnv("TAVILY_API_URL") || TAVILY_SEARCH_URL }
      : undefined,
  };
}

/**
 * MCP log levels (RFC 5424 severities, least severe first) and the
 * `notifications/message` a server sends for a log entry the client's
 * `logging/setLevel` lets through.
 *
 * @example
 * ```ts ignore
 * import { isLogLevel, passes } from "./logging.ts";
 * console.log(isLogLevel("notice"), passes("debug", "info")); // true false
 * ```
 * @module
 */
import type { RpcNotification } from "./jsonrpc.ts";

/** The levels, least severe first. */
export const LOG_LEVELS = [
  "debug",
  "info",
  "notice",
  "warning",
  "error",
  "critical",
  "alert",
  "emergency",
] as const;

/** One log level. */
export type LogLevel = typeof LOG_LEVELS[number];

/** True when `value` names a level. */
export function isLogLevel(value: unknown): value is LogLevel {
  return LOG_LEVELS.includes(value as LogLevel);
}

/** True when an entry at `level` passes the threshold `min` (everything passes when none is set). */
export function passes(level: LogLevel, min: LogLevel | undefined): boolean {
  return min === undefined || LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(min);
}

/** The notification for one log entry. */
export function logMessage(level: LogLevel, data: unknown, logger?: string): RpcNotification {
  const params: Record<string, unknown> = { level, data };
  if (logger !== undefined) params.logger = logger;
  return { jsonrpc: "2.0", method: "notifications/message", params };
}

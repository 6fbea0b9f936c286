/**
 * The MCP revisions this server speaks and what each one has: the server
 * answers every client in the revision it negotiated, leaving out what that
 * revision does not define (structured tool output before 2025-06-18, audio
 * before 2025-03-26, icons before 2025-11-25, …) and turning content blocks
 * an older client cannot read into text.
 *
 * @example
 * ```ts ignore
 * import { features } from "./eras.ts";
 * console.log(features("2025-03-26").structuredContent); // false
 * ```
 * @module
 */

/** Versions negotiated by the `initialize` handshake (sessions), newest first. */
export const PROTOCOL_VERSIONS: readonly string[] = [
  "2025-11-25",
  "2025-06-18",
  "2025-03-26",
  "2024-11-05",
];

/** Stateless versions: each request carries its version and the client's capabilities. */
export const STATELESS_VERSIONS: readonly string[] = ["2026-07-28"];

/** Every version this server speaks, newest first (what `server/discover` lists). */
export const SUPPORTED_VERSIONS: readonly string[] = [...STATELESS_VERSIONS, ...PROTOCOL_VERSIONS];

/** The newest handshake version, offered to a client that asks `initialize` for one this server does not know. */
export const LATEST_VERSION: string = PROTOCOL_VERSIONS[0];

/** True for a stateless version (2026-07-28): no handshake, no session, per-request `_meta`. */
export function isStateless(version: string | null | undefined): boolean {
  return version !== null && version !== undefined && STATELESS_VERSIONS.includes(version);
}

/** What one protocol revision defines. */
export interface Features {
  /** JSON-RPC batches (2025-03-26 only; removed in 2025-06-18). */
  batches: boolean;
  /** Audio content, tool annotations, `completions` capability (2025-03-26). */
  audio: boolean;
  /** `structuredContent`, `outputSchema`, `title`, `resource_link`, elicitation (2025-06-18). */
  structuredContent: boolean;
  /** The `MCP-Protocol-Version` header on every request (2025-06-18). */
  versionHeader: boolean;
  /** Icons, URL elicitation, SSE priming events (2025-11-25). */
  icons: boolean;
}

const cache = new Map<string, Features>();

/** The features of `version` (an unknown version counts as the newest). */
export function features(version: string | undefined): Features {
  const v = version ?? LATEST_VERSION;
  let f = cache.get(v);
  if (!f) {
    f = {
      batches: v < "2025-06-18",
      audio: v >= "2025-03-26",
      structuredContent: v >= "2025-06-18",
      versionHeader: v >= "2025-06-18",
      icons: v >= "2025-11-25",
    };
    cache.set(v, f);
  }
  return f;
}

/** Fields of a listed item (tool, prompt, resource) that only newer revisions define. */
export function shapeDescriptor<T extends Record<string, unknown>>(item: T, f: Features): T {
  if (f.icons && f.structuredContent) return item;
  const out: Record<string, unknown> = { ...item };
  if (!f.icons) delete out.icons;
  if (!f.structuredContent) {
    delete out.title;
    delete out.outputSchema;
  }
  if (!f.audio) delete out.annotations;
  return out as T;
}

/** A content block as `f`'s revision can carry it: unknown kinds become text. */
export function shapeContent(block: Record<string, unknown>, f: Features): Record<string, unknown> {
  if (block.type === "resource_link" && !f.structuredContent) {
    const what = block.title ?? block.name ?? block.uri;
    return { type: "text", text: `${what}: ${block.uri}` };
  }
  if (block.type === "audio" && !f.audio) {
    return { type: "text", text: `(audio, ${block.mimeType}, not shown in this protocol version)` };
  }
  if (!f.icons && "icons" in block) {
    const { icons: _icons, ...rest } = block;
    return rest;
  }
  return block;
}

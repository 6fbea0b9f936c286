/**
 * The shapes of Redis replies and their conversion from RESP2 arrays into
 * objects (hashes, stream entries, scored members).
 *
 * @module
 */

/**
 * A raw reply: a string, an integer, `null`, or an array of replies.
 *
 * @example
 * ```ts
 * import type { Reply } from "@lunet/lunet/redis";
 * const reply: Reply = ["OK", 1, null, ["nested"]];
 * if (!Array.isArray(reply)) throw new Error("an array reply");
 * ```
 */
export type Reply = string | number | null | Reply[];

/**
 * An argument of a command: strings go as UTF-8, numbers as their decimal
 * text, bytes as they are.
 *
 * @example
 * ```ts
 * import type { RedisArg } from "@lunet/lunet/redis";
 * const args: RedisArg[] = ["SET", "k", 42, new Uint8Array([1, 2])];
 * if (args.length !== 4) throw new Error("four arguments");
 * ```
 */
export type RedisArg = string | number | Uint8Array;

/**
 * One entry of a stream: its id (`"<ms>-<seq>"`) and its fields.
 *
 * @example
 * ```ts
 * import type { StreamEntry } from "@lunet/lunet/redis";
 * const entry: StreamEntry = { id: "1700000000000-0", fields: { event: "joined" } };
 * if (entry.fields.event !== "joined") throw new Error("a field");
 * ```
 */
export interface StreamEntry {
  /** The entry's id. */
  id: string;
  /** Its field-value pairs. */
  fields: Record<string, string>;
}

/**
 * A member of a sorted set with its score.
 *
 * @example
 * ```ts
 * import type { ScoredMember } from "@lunet/lunet/redis";
 * const m: ScoredMember = { member: "alice", score: 12.5 };
 * if (m.score !== 12.5) throw new Error("a score");
 * ```
 */
export interface ScoredMember {
  /** The member. */
  member: string;
  /** Its score. */
  score: number;
}

/** A flat `[field, value, …]` reply as an object. */
export function toRecord(reply: Reply): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}

/** A score as Redis writes it (`"1.5"`, `"inf"`, `"-inf"`) as a number. */
export function toScore(reply: Reply): number {
  const s = String(reply);
  if (s === "inf" || s === "+inf") return Infinity;
  if (s === "-inf") return -Infinity;
  return Number(s);
}

/** A flat `[member, score, …]` reply as scored members. */
export function toScored(reply: Reply): ScoredMember[] {
  const out: ScoredMember[] = [];
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) {
    out.push({ member: String(reply[i]), score: toScore(reply[i + 1]) });
  }
  return out;
}

/** An XRANGE-shaped reply (`[[id, [field, value, …]], …]`) as entries. */
export function toEntries(reply: Reply): StreamEntry[] {
  if (!Array.isArray(reply)) return [];
  return reply.map((item) => {
    const [id, fields] = item as [string, Reply];
    return { id: String(id), fields: toRecord(fields) };
  });
}

/** An XREAD reply (`[[key, entries], …]` or null) as entries by stream. */
export function toStreams(reply: Reply): Record<string, StreamEntry[]> | null {
  if (!Array.isArray(reply)) return null;
  const out: Record<string, StreamEntry[]> = {};
  for (const item of reply) {
    const [key, entries] = item as [string, Reply];
    out[String(key)] = toEntries(entries);
  }
  return out;
}

/** A string reply, or `null`. */
export function toText(reply: Reply): string | null {
  return reply === null ? null : String(reply);
}

/** An array reply as strings. */
export function toTexts(reply: Reply): string[] {
  return Array.isArray(reply) ? reply.map(String) : [];
}

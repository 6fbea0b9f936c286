/**
 * {@linkcode RedisCommands}: the typed helpers of the Redis driver, each
 * one command over {@linkcode RedisCommands.call}.
 *
 * @module
 */
import type { WaitOptions } from "../src/_wait.ts";
import {
  type RedisArg,
  type Reply,
  type ScoredMember,
  type StreamEntry,
  toEntries,
  toRecord,
  toScore,
  toScored,
  toStreams,
  toText,
  toTexts,
} from "./_redis_reply.ts";

/**
 * Options of `SET`.
 *
 * @example
 * ```ts
 * import type { SetOptions } from "@lunet/lunet/redis";
 * const opts: SetOptions = { px: 500, nx: true, timeout: 100 };
 * if (opts.px !== 500) throw new Error("px");
 * ```
 */
export interface SetOptions extends WaitOptions {
  /** Expire after this many seconds. */
  ex?: number;
  /** Expire after this many milliseconds. */
  px?: number;
  /** Set only when the key does not exist. */
  nx?: boolean;
  /** Set only when the key exists. */
  xx?: boolean;
}

/**
 * Options of `XADD`: the id, and a bound on the stream's length.
 *
 * @example
 * ```ts
 * import type { XAddOptions } from "@lunet/lunet/redis";
 * const opts: XAddOptions = { maxLen: 1000 };
 * if (opts.exact) throw new Error("approximate by default");
 * ```
 */
export interface XAddOptions extends WaitOptions {
  /** The entry's id; default `"*"` (the server picks one). */
  id?: string;
  /** Trim the stream to about this many entries (`MAXLEN ~`). */
  maxLen?: number;
  /** Trim to exactly `maxLen` (`MAXLEN =`), slower than the default `~`. */
  exact?: boolean;
}

/**
 * Options of `XREAD`.
 *
 * @example
 * ```ts
 * import type { XReadOptions } from "@lunet/lunet/redis";
 * const opts: XReadOptions = { count: 10, block: 1000 };
 * if (opts.block !== 1000) throw new Error("block");
 * ```
 */
export interface XReadOptions extends WaitOptions {
  /** At most this many entries per stream. */
  count?: number;
  /**
   * Wait up to this many milliseconds (0: forever) for an entry, on a
   * connection of its own.
   */
  block?: number;
}

/**
 * Options of `ZRANGE`.
 *
 * @example
 * ```ts
 * import type { ZRangeOptions } from "@lunet/lunet/redis";
 * const opts: ZRangeOptions = { byScore: true, limit: [0, 10] };
 * if (!opts.byScore) throw new Error("byScore");
 * ```
 */
export interface ZRangeOptions extends WaitOptions {
  /** `start` and `stop` are scores (`"(1"`, `"-inf"`), not ranks. */
  byScore?: boolean;
  /** From the highest score down. */
  rev?: boolean;
  /** `[offset, count]`, with `byScore`. */
  limit?: [number, number];
}

/**
 * The typed helpers shared by every Redis handle: strings, hashes, sets,
 * sorted sets, lists, streams, scripts and pub/sub publishing. Each is one
 * command sent with {@linkcode RedisCommands.call}, and each takes the
 * {@linkcode WaitOptions} of its wait last.
 *
 * @example
 * ```ts
 * import * as redis from "@lunet/lunet/redis";
 * const db = await redis.open("redis://127.0.0.1:6379");
 * try {
 *   await db.hset("lunet:doc:user", { name: "bob", age: 42 });
 *   const user = await db.hgetall("lunet:doc:user");
 *   if (user.name !== "bob" || user.age !== "42") throw new Error(JSON.stringify(user));
 *   await db.del("lunet:doc:user");
 * } finally {
 *   await db.close();
 * }
 * ```
 */
export abstract class RedisCommands {
  /**
   * Sends one command given as an array, e.g. `["GET", "k"]`.
   * @throws {RedisError} for an error reply or a lost connection.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  abstract call(args: RedisArg[], opts?: WaitOptions): Promise<Reply>;

  // Strings and keys

  /** `GET`: the value, or `null`. */
  get(key: string, opts?: WaitOptions): Promise<string | null> {
    return this.call(["GET", key], opts).then(toText);
  }
  /** `SET`: true when set (false when `nx`/`xx` prevented it). */
  set(key: string, value: RedisArg, opts?: SetOptions): Promise<boolean> {
    const args: RedisArg[] = ["SET", key, value];
    if (opts) {
      if (opts.ex !== undefined) args.push("EX", opts.ex);
      if (opts.px !== undefined) args.push("PX", opts.px);
      if (opts.nx) args.push("NX");
      if (opts.xx) args.push("XX");
    }
    return this.call(args, opts).then(isSet);
  }
  /** `MGET`: the values of `keys`, `null` where missing. */
  async mget(keys: string[], opts?: WaitOptions): Promise<(string | null)[]> {
    const reply = await this.call(["MGET", ...keys], opts);
    return Array.isArray(reply) ? reply.map(toText) : [];
  }
  /** `DEL`: how many of `keys` existed. */
  del(keys: string | string[], opts?: WaitOptions): Promise<number> {
    return this.call(["DEL", ...[keys].flat()], opts).then(Number);
  }
  /** `EXISTS`: how many of `keys` exist. */
  exists(keys: string | string[], opts?: WaitOptions): Promise<number> {
    return this.call(["EXISTS", ...[keys].flat()], opts).then(Number);
  }
  /** `INCRBY`: the value after adding `by` (default 1). */
  incr(key: string, by = 1, opts?: WaitOptions): Promise<number> {
    return this.call(["INCRBY", key, by], opts).then(Number);
  }
  /** `PEXPIRE`: true when the key exists and now expires in `ms`. */
  expire(key: string, ms: number, opts?: WaitOptions): Promise<boolean> {
    return this.call(["PEXPIRE", key, ms], opts).then(isOne);
  }
  /** `PTTL`: milliseconds to live; -1 without expiry, -2 when missing. */
  ttl(key: string, opts?: WaitOptions): Promise<number> {
    return this.call(["PTTL", key], opts).then(Number);
  }

  // Hashes

  /** `HGET`: one field, or `null`. */
  hget(key: string, field: string, opts?: WaitOptions): Promise<string | null> {
    return this.call(["HGET", key, field], opts).then(toText);
  }
  /** `HSET`: sets `fields`; returns how many were new. */
  async hset(key: string, fields: Record<string, RedisArg>, opts?: WaitOptions): Promise<number> {
    const args: RedisArg[] = ["HSET", key];
    for (const [f, v] of Object.entries(fields)) args.push(f, v);
    return Number(await this.call(args, opts));
  }
  /** `HGETALL`: every field (an empty object when the key is missing). */
  hgetall(key: string, opts?: WaitOptions): Promise<Record<string, string>> {
    return this.call(["HGETALL", key], opts).then(toRecord);
  }
  /** `HDEL`: how many of `fields` existed. */
  hdel(key: string, fields: string | string[], opts?: WaitOptions): Promise<number> {
    return this.call(["HDEL", key, ...[fields].flat()], opts).then(Number);
  }
  /** `HINCRBY`: the field's value after adding `by`. */
  hincr(key: string, field: string, by = 1, opts?: WaitOptions): Promise<number> {
    return this.call(["HINCRBY", key, field, by], opts).then(Number);
  }

  // Sets

  /** `SADD`: how many of `members` were new. */
  sadd(key: string, members: RedisArg | RedisArg[], opts?: WaitOptions): Promise<number> {
    return this.call(["SADD", key, ...[members].flat()], opts).then(Number);
  }
  /** `SREM`: how many of `members` were there. */
  srem(key: string, members: RedisArg | RedisArg[], opts?: WaitOptions): Promise<number> {
    return this.call(["SREM", key, ...[members].flat()], opts).then(Number);
  }
  /** `SMEMBERS`: every member, in no particular order. */
  smembers(key: string, opts?: WaitOptions): Promise<string[]> {
    return this.call(["SMEMBERS", key], opts).then(toTexts);
  }
  /** `SISMEMBER`. */
  sismember(key: string, member: RedisArg, opts?: WaitOptions): Promise<boolean> {
    return this.call(["SISMEMBER", key, member], opts).then(isOne);
  }
  /** `SCARD`: the number of members. */
  scard(key: string, opts?: WaitOptions): Promise<number> {
    return this.call(["SCARD", key], opts).then(Number);
  }

  // Sorted sets

  /** `ZADD`: adds or rescores `members`; returns how many were new. */
  async zadd(key: string, members: ScoredMember[], opts?: WaitOptions): Promise<number> {
    const args: RedisArg[] = ["ZADD", key];
    for (const m of members) args.push(m.score, m.member);
    return Number(await this.call(args, opts));
  }
  /** `ZINCRBY`: the member's score after adding `by`. */
  zincr(key: string, member: string, by: number, opts?: WaitOptions): Promise<number> {
    return this.call(["ZINCRBY", key, by, member], opts).then(toScore);
  }
  /** `ZSCORE`: the member's score, or `null`. */
  async zscore(key: string, member: string, opts?: WaitOptions): Promise<number | null> {
    const reply = await this.call(["ZSCORE", key, member], opts);
    return reply === null ? null : toScore(reply);
  }
  /** `ZRANGE`: members from `start` to `stop` (ranks, or scores with `byScore`). */
  zrange(
    key: string,
    start: number | string,
    stop: number | string,
    opts?: ZRangeOptions,
  ): Promise<string[]> {
    return this.call(zrangeArgs(key, start, stop, opts, false), opts).then(toTexts);
  }
  /** `ZRANGE … WITHSCORES`: members with their scores. */
  zrangeWithScores(
    key: string,
    start: number | string,
    stop: number | string,
    opts?: ZRangeOptions,
  ): Promise<ScoredMember[]> {
    return this.call(zrangeArgs(key, start, stop, opts, true), opts).then(toScored);
  }
  /** `ZREM`: how many of `members` were there. */
  zrem(key: string, members: string | string[], opts?: WaitOptions): Promise<number> {
    return this.call(["ZREM", key, ...[members].flat()], opts).then(Number);
  }
  /** `ZCARD`: the number of members. */
  zcard(key: string, opts?: WaitOptions): Promise<number> {
    return this.call(["ZCARD", key], opts).then(Number);
  }

  // Lists

  /** `RPUSH`: appends; returns the list's new length. */
  rpush(key: string, values: RedisArg | RedisArg[], opts?: WaitOptions): Promise<number> {
    return this.call(["RPUSH", key, ...[values].flat()], opts).then(Number);
  }
  /** `LPUSH`: prepends; returns the list's new length. */
  lpush(key: string, values: RedisArg | RedisArg[], opts?: WaitOptions): Promise<number> {
    return this.call(["LPUSH", key, ...[values].flat()], opts).then(Number);
  }
  /** `LPOP`: the first element, or `null`. */
  lpop(key: string, opts?: WaitOptions): Promise<string | null> {
    return this.call(["LPOP", key], opts).then(toText);
  }
  /** `LRANGE`: elements `start` to `stop` (inclusive; -1 is the last). */
  lrange(key: string, start: number, stop: number, opts?: WaitOptions): Promise<string[]> {
    return this.call(["LRANGE", key, start, stop], opts).then(toTexts);
  }
  /**
   * `BLPOP`: waits for an element of one of `keys` (on a connection of its
   * own) and returns `[key, element]`, or `null` when `seconds` (default 0:
   * forever) pass. Give up sooner with `timeout`, `deadline` or a cancel.
   */
  async blpop(
    keys: string | string[],
    seconds = 0,
    opts?: WaitOptions,
  ): Promise<[string, string] | null> {
    const reply = await this.call(["BLPOP", ...[keys].flat(), seconds], opts);
    return Array.isArray(reply) ? [String(reply[0]), String(reply[1])] : null;
  }

  // Streams

  /** `XADD`: appends an entry; returns its id. */
  async xadd(key: string, fields: Record<string, RedisArg>, opts?: XAddOptions): Promise<string> {
    const args: RedisArg[] = ["XADD", key];
    if (opts?.maxLen !== undefined) args.push("MAXLEN", opts.exact ? "=" : "~", opts.maxLen);
    args.push(opts?.id ?? "*");
    for (const [f, v] of Object.entries(fields)) args.push(f, v);
    return String(await this.call(args, opts));
  }
  /** `XRANGE`: entries from `start` to `end` (default all; `"(id"` excludes `id`). */
  async xrange(
    key: string,
    start = "-",
    end = "+",
    opts?: WaitOptions & { count?: number },
  ): Promise<StreamEntry[]> {
    const args: RedisArg[] = ["XRANGE", key, start, end];
    if (opts?.count !== undefined) args.push("COUNT", opts.count);
    return toEntries(await this.call(args, opts));
  }
  /** `XREVRANGE`: entries from `end` down to `start`. */
  async xrevrange(
    key: string,
    end = "+",
    start = "-",
    opts?: WaitOptions & { count?: number },
  ): Promise<StreamEntry[]> {
    const args: RedisArg[] = ["XREVRANGE", key, end, start];
    if (opts?.count !== undefined) args.push("COUNT", opts.count);
    return toEntries(await this.call(args, opts));
  }
  /**
   * `XREAD`: entries after the given id of each stream (`"$"`: only new
   * ones), by stream, or `null` when there were none (after `block` ms).
   */
  async xread(
    streams: Record<string, string>,
    opts?: XReadOptions,
  ): Promise<Record<string, StreamEntry[]> | null> {
    const args: RedisArg[] = ["XREAD"];
    if (opts?.count !== undefined) args.push("COUNT", opts.count);
    if (opts?.block !== undefined) args.push("BLOCK", opts.block);
    const keys = Object.keys(streams);
    args.push("STREAMS", ...keys, ...keys.map((k) => streams[k]));
    return toStreams(await this.call(args, opts));
  }
  /** `XTRIM`: trims to about `maxLen` entries (exactly with `exact`); returns how many went. */
  async xtrim(
    key: string,
    maxLen: number,
    opts?: WaitOptions & { exact?: boolean },
  ): Promise<number> {
    return Number(await this.call(["XTRIM", key, "MAXLEN", opts?.exact ? "=" : "~", maxLen], opts));
  }
  /** `XLEN`: the number of entries. */
  xlen(key: string, opts?: WaitOptions): Promise<number> {
    return this.call(["XLEN", key], opts).then(Number);
  }

  // Scripts and pub/sub

  /** `EVAL`: runs a Lua script with `keys` (`KEYS[i]`) and `args` (`ARGV[i]`). */
  eval(
    script: string,
    keys: string[] = [],
    args: RedisArg[] = [],
    opts?: WaitOptions,
  ): Promise<Reply> {
    return this.call(["EVAL", script, keys.length, ...keys, ...args], opts);
  }
  /** `EVALSHA`: runs a script loaded with `SCRIPT LOAD` (`NOSCRIPT` when not). */
  evalsha(
    sha: string,
    keys: string[] = [],
    args: RedisArg[] = [],
    opts?: WaitOptions,
  ): Promise<Reply> {
    return this.call(["EVALSHA", sha, keys.length, ...keys, ...args], opts);
  }
  /** `PUBLISH`: returns how many subscribers (of this server) received it. */
  publish(channel: string, message: RedisArg, opts?: WaitOptions): Promise<number> {
    return this.call(["PUBLISH", channel, message], opts).then(Number);
  }
  /** `PING`: `"PONG"`. */
  ping(opts?: WaitOptions): Promise<string> {
    return this.call(["PING"], opts).then(String);
  }
}

function zrangeArgs(
  key: string,
  start: number | string,
  stop: number | string,
  opts: ZRangeOptions | undefined,
  withScores: boolean,
): RedisArg[] {
  const args: RedisArg[] = ["ZRANGE", key, start, stop];
  if (opts?.byScore) args.push("BYSCORE");
  if (opts?.rev) args.push("REV");
  if (opts?.limit) args.push("LIMIT", opts.limit[0], opts.limit[1]);
  if (withScores) args.push("WITHSCORES");
  return args;
}

function isOne(reply: Reply): boolean {
  return reply === 1;
}

function isSet(reply: Reply): boolean {
  return reply !== null;
}

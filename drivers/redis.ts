/**
 * Redis for lunet, on `npm:redis` (node-redis, loaded only by this
 * module). Every call is a lunet wait: it takes `timeout`, `deadline` and
 * `signal`, and wakes with `Cancelled` when its task is cancelled. Errors
 * are {@linkcode RedisError}s: a reply error carries the server's prefix
 * (`WRONGTYPE`, `NOSCRIPT`, …) as `prefix`, a connection failure the
 * client's code as `driverCode`.
 *
 * Commands share one connection and are pipelined on it. Blocking
 * commands (`BLPOP`, `XREAD … BLOCK`, …) run on connections of their own,
 * and one whose caller gave up is closed, so it never delays or corrupts
 * another command. Subscriptions share one more connection.
 *
 * When the server goes away, the commands in flight fail with "connection
 * lost", commands given while it is away fail at once with "not connected
 * (reconnecting)" (none waits in a queue to run later, after its caller
 * gave up), and the client reconnects with back-off; subscriptions
 * subscribe again by themselves. A server that refuses the first
 * connection fails `open` with "connection refused".
 *
 * @example
 * ```ts
 * import * as redis from "@lunet/lunet/redis";
 * const db = await redis.open("redis://127.0.0.1:6379");
 * try {
 *   await db.set("lunet:doc:greeting", "hello", { px: 10_000 });
 *   if (await db.get("lunet:doc:greeting") !== "hello") throw new Error("get");
 *   const [n] = await db.pipeline([["INCR", "lunet:doc:n"], ["DEL", "lunet:doc:n", "lunet:doc:greeting"]]);
 *   if (n !== 1) throw new Error(`incr ${n}`);
 * } finally {
 *   await db.close();
 * }
 * ```
 * @module
 */
import { abandon, race, type WaitOptions } from "../src/_wait.ts";
import { traceClose, traceOpen } from "../src/trace.ts";
import { BlockingPool, isBlocking } from "./_redis_blocking.ts";
import {
  type Client,
  closeClient,
  connectClient,
  newClient,
  type RedisConfig,
  type ResolvedRedisConfig,
  resolveRedisConfig,
  send,
  sendWaiting,
  toArgs,
} from "./_redis_client.ts";
import { RedisCommands } from "./_redis_commands.ts";
import { RedisError, toRedisError } from "./_redis_errors.ts";
import type { RedisArg, Reply } from "./_redis_reply.ts";
import { listenerOf, makeSubscription, type Subscription } from "./_redis_subscription.ts";

export type { WaitOptions } from "../src/_wait.ts";
export type { RedisConfig } from "./_redis_client.ts";
export {
  RedisCommands,
  type SetOptions,
  type XAddOptions,
  type XReadOptions,
  type ZRangeOptions,
} from "./_redis_commands.ts";
export { RedisError } from "./_redis_errors.ts";
export type { ErrorCode, LunetError } from "../src/errors.ts";
export type { RedisArg, Reply, ScoredMember, StreamEntry } from "./_redis_reply.ts";
export { type Message, Subscription } from "./_redis_subscription.ts";

type Listener = (message: string, channel: string) => void;

let makeRedis: (client: Client, cfg: ResolvedRedisConfig, label: string) => Redis;

/**
 * An open Redis connection (see the module's doc for how it behaves when
 * the server goes away). Create one with {@linkcode open}.
 *
 * @example
 * ```ts
 * import * as redis from "@lunet/lunet/redis";
 * const db = await redis.open({ host: "127.0.0.1", port: 6379 });
 * try {
 *   const id = await db.xadd("lunet:doc:events", { kind: "joined" }, { maxLen: 100 });
 *   const [entry] = await db.xrange("lunet:doc:events", id, id);
 *   if (entry.fields.kind !== "joined") throw new Error("xrange");
 *   await db.del("lunet:doc:events");
 * } finally {
 *   await db.close();
 * }
 * ```
 */
export class Redis extends RedisCommands {
  #client: Client;
  #cfg: ResolvedRedisConfig;
  #blocking: BlockingPool;
  #subscriber: Promise<Client> | undefined;
  #subs = new Map<Subscription, Map<string, Listener>>();
  #trace: number;
  #closed = false;
  /** `redis host:port/db`, as in error messages. */
  readonly label: string;

  static {
    makeRedis = (client, cfg, label) => new Redis(client, cfg, label);
  }

  /** @ignore */
  private constructor(client: Client, cfg: ResolvedRedisConfig, label: string) {
    super();
    this.#client = client;
    this.#cfg = cfg;
    this.label = label;
    this.#blocking = new BlockingPool(cfg, label);
    this.#trace = traceOpen("redis", label);
  }

  /** True while the main connection is up (false while it reconnects). */
  get connected(): boolean {
    return this.#client.isReady;
  }

  /**
   * Sends one command: `command("SET", "k", "v")`, or with the wait's
   * options first, `command({ timeout: 500 }, "GET", "k")`. Blocking
   * commands go to a connection of their own.
   * @throws {RedisError} for an error reply or a lost connection.
   * @throws {TimeoutError} when the timeout or deadline passes first.
   * @throws {Cancelled} when the task is cancelled or the signal aborts.
   */
  command(...args: RedisArg[]): Promise<Reply>;
  /** Sends one command with the wait's options first: `command({ timeout: 500 }, "GET", "k")`. */
  command(opts: WaitOptions, ...args: RedisArg[]): Promise<Reply>;
  command(...args: unknown[]): Promise<Reply> {
    const first = args[0];
    if (typeof first === "object" && first !== null && !(first instanceof Uint8Array)) {
      return this.call(args.slice(1) as RedisArg[], first as WaitOptions);
    }
    return this.call(args as RedisArg[]);
  }

  /** Sends one command given as an array (see {@linkcode Redis.command}). */
  call(args: RedisArg[], opts?: WaitOptions): Promise<Reply> {
    const what = `${this.label}: ${args[0]}`;
    if (this.#closed) return Promise.reject(closed(what));
    if (isBlocking(args)) return this.#blocking.run(args, what, opts);
    return sendWaiting(this.#client, args, what, opts);
  }

  /**
   * Sends several commands at once (one write, replies in order) and
   * returns their replies. When one fails, the others still run, and the
   * error of the first failure is thrown, naming its index.
   */
  async pipeline(commands: RedisArg[][], opts?: WaitOptions): Promise<Reply[]> {
    const what = `${this.label}: pipeline of ${commands.length}`;
    if (this.#closed) throw closed(what);
    const sent = commands.map((args, i) => send(this.#client, args, `${what}: [${i}] ${args[0]}`));
    const all = Promise.allSettled(sent);
    const settled = await race(what, all, opts);
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return settled.map((s) => (s as PromiseFulfilledResult<Reply>).value);
  }

  /**
   * Runs commands as one `MULTI`/`EXEC` transaction: all or none, nothing
   * interleaved. An error reply of one command (the others still ran, as
   * Redis does) is thrown, naming its index.
   */
  async transaction(commands: RedisArg[][], opts?: WaitOptions): Promise<Reply[]> {
    const what = `${this.label}: transaction of ${commands.length}`;
    if (this.#closed) throw closed(what);
    const multi = this.#client.multi();
    for (const args of commands) multi.addCommand(toArgs(args) as string[]);
    const done = (multi.exec() as unknown as Promise<Reply[]>).catch((err) => {
      const e = err as { errorIndexes?: number[]; replies?: unknown[] };
      if (e.errorIndexes?.length) {
        const i = e.errorIndexes[0];
        throw toRedisError(e.replies![i], `${what}: [${i}] ${commands[i][0]}`);
      }
      throw toRedisError(err, what);
    });
    return await race(what, done, opts);
  }

  /** Subscribes to channels (`SUBSCRIBE`); see {@linkcode Subscription}. */
  subscribe(channels: string | string[], opts?: WaitOptions): Promise<Subscription> {
    return this.#subscribe([channels].flat(), false, opts);
  }

  /** Subscribes to channel patterns (`PSUBSCRIBE`, e.g. `"news.*"`). */
  psubscribe(patterns: string | string[], opts?: WaitOptions): Promise<Subscription> {
    return this.#subscribe([patterns].flat(), true, opts);
  }

  async #subscribe(names: string[], pattern: boolean, opts?: WaitOptions): Promise<Subscription> {
    const what = `${this.label}: ${pattern ? "PSUBSCRIBE" : "SUBSCRIBE"} ${names.join(" ")}`;
    if (this.#closed) throw closed(what);
    this.#subscriber ??= this.#connectSubscriber();
    const client = await race(what, this.#subscriber, opts).catch((err) => {
      throw toRedisError(err, what);
    });
    const sub = makeSubscription(
      { unsubscribe: (s) => this.#unsubscribe(s) },
      names,
      pattern,
      this.#cfg.subscriptionLimit,
      this.label,
    );
    const listeners = new Map<string, Listener>();
    for (const name of names) listeners.set(name, listenerOf(sub, name));
    this.#subs.set(sub, listeners);
    const done = Promise.all(
      [...listeners].map(([name, l]) =>
        pattern ? client.pSubscribe(name, l) : client.subscribe(name, l)
      ),
    ).catch((err) => {
      throw toRedisError(err, what);
    });
    try {
      await race(what, done, opts);
    } catch (err) {
      abandon(done);
      await sub.close();
      throw err;
    }
    return sub;
  }

  async #connectSubscriber(): Promise<Client> {
    const client = newClient(this.#cfg, true);
    try {
      await connectClient(client, `${this.label}: connect subscriber`, this.#cfg.connectTimeout);
    } catch (err) {
      this.#subscriber = undefined;
      throw err;
    }
    return client;
  }

  async #unsubscribe(sub: Subscription): Promise<void> {
    const listeners = this.#subs.get(sub);
    if (!listeners || !this.#subscriber) return;
    this.#subs.delete(sub);
    const client = await this.#subscriber;
    const done = Promise.all(
      [...listeners].map(([name, l]) =>
        sub.pattern ? client.pUnsubscribe(name, l) : client.unsubscribe(name, l)
      ),
    );
    // The listeners are gone at once (a reconnect does not subscribe them
    // again); the server's confirmation is awaited only while connected.
    if (this.#closed || !client.isReady) abandon(done);
    else await done;
  }

  /**
   * Closes every connection: commands in flight on the main one get their
   * replies first, blocking commands fail with "client closed", and every
   * subscription ends (its iteration stops).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    traceClose("redis", this.#trace);
    this.#blocking.close();
    const subs = [...this.#subs.keys()];
    this.#subs.clear();
    await Promise.all(subs.map((s) => s.close()));
    const subscriber = this.#subscriber?.catch(() => undefined);
    await Promise.all([closeClient(this.#client), subscriber?.then((c) => c && closeClient(c))]);
  }
}

function closed(what: string): RedisError {
  return new RedisError(`${what}: client closed`, { driverCode: "CLOSED" });
}

/**
 * Opens a Redis connection and waits until it is ready. Bad settings
 * (another URL scheme, a port outside 1-65535, a database that is not an
 * integer from 0…) are refused with a TypeError or RangeError naming the
 * setting, before any connection is tried.
 *
 * @param config A URL (`redis://[user[:password]@]host[:port][/db]`) or settings.
 * @param opts Timeout, deadline and signal of the connection attempt.
 * @returns The open connection.
 * @throws {RedisError} when the server refuses or does not answer
 * (`redis 127.0.0.1:6390/0: connect: connection refused`).
 *
 * @example
 * ```ts
 * import * as redis from "@lunet/lunet/redis";
 * const db = await redis.open("redis://127.0.0.1:6379/0", { timeout: 5000 });
 * try {
 *   if (await db.ping() !== "PONG") throw new Error("ping");
 * } finally {
 *   await db.close();
 * }
 * ```
 */
export async function open(config: RedisConfig | string = {}, opts?: WaitOptions): Promise<Redis> {
  const cfg = resolveRedisConfig(config);
  const where = cfg.host.startsWith("/") ? cfg.host : `${cfg.host}:${cfg.port}`;
  const label = `redis ${where}/${cfg.database}`;
  const client = newClient(cfg, true);
  await connectClient(client, `${label}: connect`, cfg.connectTimeout, opts);
  return makeRedis(client, cfg, label);
}

/**
 * Blocking commands (`BLPOP`, `XREAD BLOCK`, …) on connections of their
 * own: a blocked connection answers nothing else until the command ends,
 * and one whose caller gave up is closed, never reused, so a late reply
 * can never reach the next command.
 *
 * @module
 */
import { abandon, isEarlyWake, race, type WaitOptions } from "../src/_wait.ts";
import {
  type Client,
  connectClient,
  destroyClient,
  newClient,
  type ResolvedRedisConfig,
  send,
} from "./_redis_client.ts";
import { RedisError } from "./_redis_errors.ts";
import type { RedisArg, Reply } from "./_redis_reply.ts";

const BLOCKING = new Set([
  "BLPOP",
  "BRPOP",
  "BLMOVE",
  "BRPOPLPUSH",
  "BLMPOP",
  "BZPOPMIN",
  "BZPOPMAX",
  "BZMPOP",
  "WAIT",
  "WAITAOF",
]);

/** True when `args` is a command that may block its connection. */
export function isBlocking(args: RedisArg[]): boolean {
  const first = args[0];
  if (typeof first !== "string") return false;
  // Every blocking command starts with B, W or X: the others (GET, SET, …) stop here.
  const c = first.charCodeAt(0) | 0x20;
  if (c !== 0x62 && c !== 0x77 && c !== 0x78) return false;
  const name = first.toUpperCase();
  if (BLOCKING.has(name)) return true;
  if (name !== "XREAD" && name !== "XREADGROUP") return false;
  return args.some((a) => typeof a === "string" && a.toUpperCase() === "BLOCK");
}

/** The connections for blocking commands of one Redis handle. */
export class BlockingPool {
  #cfg: ResolvedRedisConfig;
  #label: string;
  #idle: Client[] = [];
  #busy = new Set<Client>();
  #closed = false;

  constructor(cfg: ResolvedRedisConfig, label: string) {
    this.#cfg = cfg;
    this.#label = label;
  }

  /** Runs a blocking command on a connection of its own. */
  async run(args: RedisArg[], what: string, opts?: WaitOptions): Promise<Reply> {
    if (this.#closed) throw new RedisError(`${what}: client closed`, { driverCode: "CLOSED" });
    let client = this.#idle.pop();
    if (!client) {
      client = newClient(this.#cfg, false);
      await connectClient(client, `${this.#label}: connect`, this.#cfg.connectTimeout, opts);
    }
    this.#busy.add(client);
    const reply = send(client, args, what);
    try {
      const value = await race(what, reply, opts);
      this.#release(client);
      return value;
    } catch (err) {
      abandon(reply);
      this.#busy.delete(client);
      // A reply error leaves the connection as it was; anything else (a
      // wait given up, a lost connection) ends it.
      if (!isEarlyWake(err) && err instanceof RedisError && err.prefix !== undefined) {
        this.#release(client);
      } else destroyClient(client);
      throw err;
    }
  }

  #release(client: Client): void {
    this.#busy.delete(client);
    if (this.#closed || !client.isReady || this.#idle.length >= this.#cfg.blockingPool) {
      destroyClient(client);
    } else this.#idle.push(client);
  }

  /** Closes every connection; blocked commands fail with "client closed". */
  close(): void {
    this.#closed = true;
    for (const c of this.#idle.splice(0)) destroyClient(c);
    for (const c of this.#busy) destroyClient(c);
    this.#busy.clear();
  }
}

/**
 * The node-redis clients behind a Redis handle: settings, the reconnect
 * policy, and sending one command with lunet's waits and errors.
 *
 * @module
 */
import {
  checkCount,
  checkHost,
  checkMillis,
  checkPort,
  numberParam,
  parseUrl,
  settingsOf,
  urlHost,
} from "./_config.ts";
import { Buffer } from "node:buffer";
import { createClient } from "redis";
import { ProtocolError } from "../src/errors.ts";
import { abandon, park, race, type WaitOptions } from "../src/_wait.ts";
import { toRedisError } from "./_redis_errors.ts";
import type { RedisArg, Reply } from "./_redis_reply.ts";

/**
 * Connection settings: a URL (`redis://user:password@host:port/db`),
 * fields, or both (fields win).
 *
 * @example
 * ```ts
 * import type { RedisConfig } from "@lunet/lunet/redis";
 * const cfg: RedisConfig = { url: "redis://127.0.0.1:6379/0", connectTimeout: 2000 };
 * if (cfg.connectTimeout !== 2000) throw new Error("connectTimeout");
 * ```
 */
export interface RedisConfig {
  /** `redis://[user[:password]@]host[:port][/db]`. */
  url?: string;
  /**
   * Default `127.0.0.1`. A path is the server's Unix socket (also
   * `?socket=` in the URL, or its percent-encoded host).
   */
  host?: string;
  /** Default 6379. */
  port?: number;
  /** ACL user name. */
  username?: string;
  /** Password (`AUTH`). */
  password?: string;
  /** Database number (`SELECT`), default 0. */
  database?: number;
  /** Milliseconds a connection attempt may take, handshake included, when the call sets no timeout or deadline; default 10 000. */
  connectTimeout?: number;
  /** The longest pause between reconnect attempts, in ms; default 2000. */
  maxReconnectDelay?: number;
  /** Idle connections kept for blocking commands; default 4. */
  blockingPool?: number;
  /** Messages a subscription queues before it drops; default 10 000. */
  subscriptionLimit?: number;
}

/** {@linkcode RedisConfig} with every default filled in. */
export interface ResolvedRedisConfig {
  host: string;
  port: number;
  username?: string;
  password?: string;
  database: number;
  connectTimeout: number;
  maxReconnectDelay: number;
  blockingPool: number;
  subscriptionLimit: number;
}

/** Merges a URL, fields and defaults, checking each value. */
export function resolveRedisConfig(config: RedisConfig | string): ResolvedRedisConfig {
  const cfg = settingsOf<RedisConfig>(config, "url", "redis");
  const url = cfg.url === undefined ? undefined : parseUrl(cfg.url, ["redis:"], "redis");
  const dec = (s: string | undefined) => (s ? decodeURIComponent(s) : undefined);
  const db = url?.pathname.slice(1);
  return {
    host: checkHost(cfg.host ?? (url && urlHost(url, "socket") || "127.0.0.1"), "redis"),
    port: checkPort(cfg.port ?? (url?.port ? Number(url.port) : 6379), "redis"),
    username: cfg.username ?? dec(url?.username),
    password: cfg.password ?? dec(url?.password),
    database: checkCount(
      "database",
      cfg.database ?? (numberParam(db || undefined) ?? 0),
      "redis",
      0,
    ),
    connectTimeout: checkMillis("connectTimeout", cfg.connectTimeout ?? 10_000, "redis"),
    maxReconnectDelay: checkMillis("maxReconnectDelay", cfg.maxReconnectDelay ?? 2000, "redis"),
    blockingPool: checkCount("blockingPool", cfg.blockingPool ?? 4, "redis", 1),
    subscriptionLimit: checkCount("subscriptionLimit", cfg.subscriptionLimit ?? 10_000, "redis", 1),
  };
}

/** A node-redis client. */
export type Client = ReturnType<typeof createClient>;

function ignore(): void {}

/**
 * A client that has not connected yet. A first connection that fails ends
 * it with the error (connection refused is an answer, not something to
 * wait out); once connected, a `persistent` client reconnects after a loss
 * with back-off, while another one closes. Commands given while it is not
 * connected fail at once instead of waiting in an offline queue, so a
 * caller that gave up on one never sees it run later.
 */
export function newClient(cfg: ResolvedRedisConfig, persistent: boolean): Client {
  let ready = false;
  const client = createClient({
    socket: {
      ...(cfg.host.startsWith("/") ? { path: cfg.host } : { host: cfg.host, port: cfg.port }),
      connectTimeout: cfg.connectTimeout,
      reconnectStrategy: (retries: number) =>
        persistent && ready
          ? Math.min(50 * 2 ** Math.min(retries, 10), cfg.maxReconnectDelay)
          : false,
    },
    username: cfg.username,
    password: cfg.password,
    database: cfg.database || undefined,
    disableOfflineQueue: true,
  });
  client.on("ready", () => ready = true);
  // node-redis emits every socket error; the commands in flight carry them.
  client.on("error", ignore);
  return client;
}

/**
 * Connects `client` within `opts`, or within `handshake` ms when they set
 * no timeout or deadline (the socket's own connect timeout ends at the TCP
 * connect, so a peer that accepts and never answers would hold it
 * forever). A peer whose reply is not RESP fails it at once with a
 * {@linkcode ProtocolError}. On an early wake or a failure the client is
 * destroyed.
 */
export async function connectClient(
  client: Client,
  what: string,
  handshake: number,
  opts?: WaitOptions,
): Promise<void> {
  let notRedis: (err: unknown) => void = ignore;
  const broken = new Promise<never>((_, reject) => notRedis = reject);
  broken.catch(ignore);
  const onError = (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    if (RESP_ERROR.test(message)) {
      notRedis(
        new ProtocolError(`${what}: not a Redis reply (${message})`, undefined, { cause: err }),
      );
    }
  };
  client.on("error", onError);
  const wait = opts?.timeout === undefined && opts?.deadline === undefined
    ? { ...opts, timeout: handshake }
    : opts;
  const connecting = client.connect();
  try {
    await race(what, Promise.race([connecting, broken]), wait);
  } catch (err) {
    abandon(connecting);
    destroyClient(client);
    throw toRedisError(err, what);
  } finally {
    client.off("error", onError);
  }
}

// node-redis's decoder on bytes that are not RESP.
const RESP_ERROR = /^Unknown RESP type/;

/** Ends `client` at once (its pending commands fail); one already closed is left as it is. */
export function destroyClient(client: Client): void {
  try {
    client.destroy();
  } catch {
    // Closed already (node-redis throws ClientClosedError).
  }
}

/** Closes `client`, waiting for its replies; one that is not connected is destroyed. */
export async function closeClient(client: Client): Promise<void> {
  if (!client.isOpen) return;
  if (!client.isReady) return destroyClient(client);
  try {
    await client.close();
  } catch {
    destroyClient(client);
  }
}

/** The argument list node-redis takes: strings and Buffers. */
export function toArgs(args: RedisArg[]): (string | Uint8Array)[] {
  let out: (string | Uint8Array)[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (typeof a === "string") continue;
    out ??= args.slice() as (string | Uint8Array)[];
    out[i] = typeof a === "number" ? String(a) : Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  }
  return out ?? (args as string[]);
}

/** Sends one command on `client`, its failure as a {@linkcode RedisError}. */
export function send(client: Client, args: RedisArg[], what: string): Promise<Reply> {
  return (client.sendCommand(toArgs(args) as string[]) as Promise<Reply>).then(
    undefined,
    (err) => {
      throw toRedisError(err, what);
    },
  );
}

/**
 * Sends one command on `client` and waits for its reply within `opts` and
 * the current task's cancellation (one promise fewer than a `race` over
 * {@linkcode send}: this is every command's path). A wait over before it
 * began sends nothing; one given up leaves the command to finish.
 */
export function sendWaiting(
  client: Client,
  args: RedisArg[],
  what: string,
  opts?: WaitOptions,
): Promise<Reply> {
  return park<Reply>(what, opts, (resolve, reject) => {
    (client.sendCommand(toArgs(args) as string[]) as Promise<Reply>).then(
      resolve,
      (err) => reject(toRedisError(err, what)),
    );
  });
}

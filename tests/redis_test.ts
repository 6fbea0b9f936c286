import assert from "node:assert/strict";
import { Cancelled, ProtocolError, sleep, spawn, TimeoutError } from "../mod.ts";
import * as redis from "../drivers/redis.ts";
import { RedisError } from "../drivers/redis.ts";
import { noLeaks } from "./leak.ts";
import { rawPeer } from "./net_helpers.ts";
import { rejection } from "./rejection.ts";

const REDIS_URL = "redis://127.0.0.1:6379";
const uid = () => `lunet:test:${crypto.randomUUID().slice(0, 8)}`;

async function portOpen(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * A redis-server child of this test (never the system one at 6379), killed
 * with SIGKILL; listening on a Unix socket too when `socket` names one.
 */
function ownRedis(port: number, socket?: string) {
  let child: Deno.ChildProcess | undefined;
  const unix = socket ? ["--unixsocket", socket, "--unixsocketperm", "700"] : [];
  return {
    async start() {
      child = new Deno.Command("redis-server", {
        args: [
          ...["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
          ...unix,
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
      for (let i = 0; i < 200 && !(await portOpen(port)); i++) await sleep(10);
    },
    async kill() {
      child?.kill("SIGKILL");
      await child?.status;
      child = undefined;
    },
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

Deno.test(
  "typed helpers map each data type",
  noLeaks(async (t) => {
    const db = await redis.open(REDIS_URL);
    const k = uid();
    try {
      await t.step("strings and keys", async () => {
        assert.equal(await db.get(`${k}:s`), null);
        assert.equal(await db.set(`${k}:s`, "v"), true);
        assert.equal(await db.set(`${k}:s`, "w", { nx: true }), false);
        assert.equal(await db.get(`${k}:s`), "v");
        assert.equal(await db.set(`${k}:s`, "héllo 😀", { px: 60_000, xx: true }), true);
        assert.equal(await db.get(`${k}:s`), "héllo 😀");
        assert.ok((await db.ttl(`${k}:s`)) > 50_000);
        assert.equal(await db.incr(`${k}:n`), 1);
        assert.equal(await db.incr(`${k}:n`, 41), 42);
        assert.deepEqual(await db.mget([`${k}:n`, `${k}:none`]), ["42", null]);
        assert.equal(await db.exists([`${k}:s`, `${k}:n`, `${k}:none`]), 2);
        assert.equal(await db.expire(`${k}:n`, 60_000), true);
        assert.equal(await db.del([`${k}:s`, `${k}:n`]), 2);
      });
      await t.step("bytes go as they are", async () => {
        await db.command("SET", `${k}:b`, new Uint8Array([104, 105]));
        assert.equal(await db.get(`${k}:b`), "hi");
      });
      await t.step("hashes", async () => {
        assert.equal(await db.hset(`${k}:h`, { a: "1", b: 2 }), 2);
        assert.equal(await db.hget(`${k}:h`, "b"), "2");
        assert.equal(await db.hincr(`${k}:h`, "b", 3), 5);
        assert.deepEqual(await db.hgetall(`${k}:h`), { a: "1", b: "5" });
        assert.equal(await db.hdel(`${k}:h`, ["a", "zz"]), 1);
        assert.deepEqual(await db.hgetall(`${k}:missing`), {});
      });
      await t.step("sets", async () => {
        assert.equal(await db.sadd(`${k}:set`, ["x", "y", "x"]), 2);
        assert.equal(await db.sismember(`${k}:set`, "x"), true);
        assert.equal(await db.scard(`${k}:set`), 2);
        assert.deepEqual((await db.smembers(`${k}:set`)).sort(), ["x", "y"]);
        assert.equal(await db.srem(`${k}:set`, "x"), 1);
      });
      await t.step("sorted sets", async () => {
        const z = `${k}:z`;
        assert.equal(
          await db.zadd(z, [{ member: "a", score: 1 }, { member: "b", score: 2.5 }, {
            member: "c",
            score: -Infinity,
          }]),
          3,
        );
        assert.equal(await db.zincr(z, "a", 2), 3);
        assert.equal(await db.zscore(z, "c"), -Infinity);
        assert.equal(await db.zscore(z, "none"), null);
        assert.deepEqual(await db.zrange(z, 0, -1), ["c", "b", "a"]);
        assert.deepEqual(await db.zrange(z, 0, -1, { rev: true }), ["a", "b", "c"]);
        assert.deepEqual(await db.zrangeWithScores(z, "(0", "+inf", { byScore: true }), [
          { member: "b", score: 2.5 },
          { member: "a", score: 3 },
        ]);
        assert.equal(await db.zrem(z, ["a", "none"]), 1);
        assert.equal(await db.zcard(z), 2);
      });
      await t.step("lists", async () => {
        assert.equal(await db.rpush(`${k}:l`, ["b", "c"]), 2);
        assert.equal(await db.lpush(`${k}:l`, "a"), 3);
        assert.deepEqual(await db.lrange(`${k}:l`, 0, -1), ["a", "b", "c"]);
        assert.equal(await db.lpop(`${k}:l`), "a");
        assert.deepEqual(await db.blpop(`${k}:l`, 1), [`${k}:l`, "b"]);
      });
      await t.step("streams: XADD, XRANGE, XREAD, trim", async () => {
        const s = `${k}:stream`;
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) ids.push(await db.xadd(s, { i, kind: "e" }));
        assert.equal(await db.xlen(s), 5);
        const all = await db.xrange(s);
        assert.deepEqual(all.map((e) => e.id), ids);
        assert.deepEqual(all[2].fields, { i: "2", kind: "e" });
        assert.deepEqual((await db.xrange(s, `(${ids[2]}`)).map((e) => e.id), ids.slice(3));
        assert.deepEqual((await db.xrevrange(s, "+", "-", { count: 2 })).map((e) => e.id), [
          ids[4],
          ids[3],
        ]);
        const read = await db.xread({ [s]: ids[3] });
        assert.deepEqual(read?.[s].map((e) => e.id), [ids[4]]);
        assert.equal(await db.xread({ [s]: ids[4] }), null);
        assert.equal(await db.xtrim(s, 2, { exact: true }), 3);
        await db.xadd(s, { i: 9 }, { maxLen: 1, exact: true });
        assert.equal(await db.xlen(s), 1);
      });
      await t.step("EVAL and EVALSHA", async () => {
        const reply = await db.eval("return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}", [
          "key",
        ], ["arg", 41]);
        assert.deepEqual(reply, ["key", "arg", 42]);
        const sha = String(await db.command("SCRIPT", "LOAD", "return 7"));
        assert.equal(await db.evalsha(sha), 7);
        const err = await rejection(db.evalsha("0".repeat(40)));
        assert.ok(err instanceof RedisError && err.prefix === "NOSCRIPT", String(err));
      });
    } finally {
      await db.command(
        "DEL",
        ...["s", "n", "b", "h", "set", "z", "l", "stream"].map((s) => `${k}:${s}`),
      );
      await db.close();
    }
  }),
);

Deno.test(
  "errors carry the server's prefix and name the command",
  noLeaks(async () => {
    const db = await redis.open(REDIS_URL);
    const k = uid();
    try {
      await db.set(k, "text");
      const err = await rejection(db.hget(k, "f"));
      assert.ok(err instanceof RedisError, String(err));
      assert.equal(err.code, "db");
      assert.equal(err.prefix, "WRONGTYPE");
      assert.match(err.message, /^redis 127\.0\.0\.1:6379\/0: HGET: WRONGTYPE /);
      const unknown = await rejection(db.command("NOSUCHCMD"));
      assert.ok(unknown instanceof RedisError && unknown.prefix === "ERR", String(unknown));
      // The connection is fine after an error reply.
      assert.equal(await db.get(k), "text");
    } finally {
      await db.del(k);
      await db.close();
    }
    const late = await rejection(db.get(k));
    assert.ok(late instanceof RedisError && late.driverCode === "CLOSED", String(late));
    assert.match((late as Error).message, /client closed/);
  }),
);

Deno.test(
  "pipelines and transactions",
  noLeaks(async () => {
    const db = await redis.open(REDIS_URL);
    const k = uid();
    try {
      assert.deepEqual(
        await db.pipeline([["SET", k, 1], ["INCRBY", k, 2], ["GET", k]]),
        ["OK", 3, "3"],
      );
      const err = await rejection(db.pipeline([["INCR", k], ["HGET", k, "f"], ["INCR", k]]));
      assert.ok(err instanceof RedisError && err.prefix === "WRONGTYPE", String(err));
      assert.match((err as Error).message, /pipeline of 3: \[1\] HGET: WRONGTYPE/);
      assert.equal(await db.get(k), "5", "the other commands of the pipeline ran");
      assert.deepEqual(await db.transaction([["INCR", k], ["INCR", k]]), [6, 7]);
      const txErr = await rejection(db.transaction([["SET", k, "x"], ["INCR", k]]));
      assert.ok(txErr instanceof RedisError && txErr.prefix === "ERR", String(txErr));
      assert.match((txErr as Error).message, /transaction of 2: \[1\] INCR: ERR/);
      // 100 tasks at once share the one connection.
      const values = await Promise.all(
        Array.from({ length: 100 }, (_, i) => spawn(() => db.incr(`${k}:c`, i))),
      );
      assert.equal(Math.max(...values), (99 * 100) / 2);
    } finally {
      await db.del([k, `${k}:c`]);
      await db.close();
    }
  }),
);

Deno.test(
  "a blocking read given up leaves every connection clean",
  noLeaks(async (t) => {
    const db = await redis.open(REDIS_URL);
    const k = uid();
    try {
      await t.step("BLPOP with a timeout: the element pushed later is not lost", async () => {
        const started = Date.now();
        const err = await rejection(db.blpop(k, 0, { timeout: 100 }));
        assert.ok(err instanceof TimeoutError, String(err));
        assert.ok(Date.now() - started < 1000);
        await db.rpush(k, "x");
        await sleep(50); // a blocked BLPOP left on the server would take it now
        assert.deepEqual(await db.blpop(k, 1), [k, "x"]);
      });
      await t.step("XREAD BLOCK in a cancelled task", async () => {
        const s = `${k}:s`;
        const task = spawn(() => db.xread({ [s]: "$" }, { block: 0 }));
        await sleep(50);
        task.cancel();
        const err = await rejection(task);
        assert.ok(err instanceof Cancelled, String(err));
        const id = await db.xadd(s, { v: "1" });
        const read = await db.xread({ [s]: "0" }, { block: 1000 });
        assert.deepEqual(read?.[s].map((e) => e.id), [id]);
      });
      await t.step("commands on the main connection go on while one blocks", async () => {
        const blocked = db.blpop(`${k}:never`, 0, { timeout: 300 });
        const started = Date.now();
        assert.equal(await db.ping(), "PONG");
        assert.ok(Date.now() - started < 200);
        assert.ok((await rejection(blocked)) instanceof TimeoutError);
      });
      await t.step("an aborted signal and a past deadline", async () => {
        const ac = new AbortController();
        const pending = db.command({ signal: ac.signal }, "BLPOP", `${k}:never`, 0);
        ac.abort();
        assert.ok((await rejection(pending)) instanceof Cancelled);
        const late = await rejection(db.get(k, { deadline: Date.now() - 1 }));
        assert.ok(late instanceof TimeoutError, String(late));
      });
      assert.equal(await db.ping(), "PONG");
    } finally {
      await db.del([k, `${k}:s`]);
      await db.close();
    }
  }),
);

Deno.test(
  "subscriptions are lunet iterables",
  noLeaks(async (t) => {
    const db = await redis.open(REDIS_URL);
    const ch = uid();
    try {
      await t.step("for await, in order, until break", async () => {
        const sub = await db.subscribe(ch);
        const got: string[] = [];
        const reader = spawn(async () => {
          for await (const msg of sub) {
            assert.equal(msg.channel, ch);
            got.push(msg.message);
            if (got.length === 100) break;
          }
        });
        for (let i = 0; i < 100; i++) await db.publish(ch, String(i));
        await reader;
        assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => String(i)));
        assert.equal(sub.closed, true);
        assert.equal(await db.publish(ch, "nobody"), 0, "leaving the loop unsubscribed");
      });
      await t.step("patterns, timeouts, cancellation", async () => {
        const sub = await db.psubscribe(`${ch}:*`);
        const err = await rejection(sub.next({ timeout: 30 }));
        assert.ok(err instanceof TimeoutError, String(err));
        await db.publish(`${ch}:a`, "m");
        assert.deepEqual(await sub.next({ timeout: 2000 }), {
          channel: `${ch}:a`,
          message: "m",
          pattern: `${ch}:*`,
        });
        const waiting = spawn(() => sub.next());
        await sleep(10);
        waiting.cancel();
        assert.ok((await rejection(waiting)) instanceof Cancelled);
        await sub.close();
        assert.equal(await sub.next(), null);
      });
      await t.step("closing the connection ends its subscriptions", async () => {
        const sub = await db.subscribe([ch, `${ch}:2`]);
        const pending = sub.next();
        await db.close();
        assert.equal(await pending, null);
      });
    } finally {
      await db.close();
    }
  }),
);

Deno.test(
  "connection refused is a clear error",
  noLeaks(async () => {
    const port = freePort();
    const err = await rejection(redis.open({ port }));
    assert.ok(err instanceof RedisError, String(err));
    assert.equal(err.driverCode, "ECONNREFUSED");
    assert.equal(err.message, `redis 127.0.0.1:${port}/0: connect: connection refused`);
  }),
);

Deno.test(
  "a server restarted mid-run: the call in flight fails, later calls and subscriptions come back",
  noLeaks(async () => {
    const port = freePort();
    const server = ownRedis(port);
    await server.start();
    const db = await redis.open({ port, maxReconnectDelay: 100 });
    const other = await redis.open({ port, maxReconnectDelay: 100 });
    try {
      const sub = await db.subscribe("restart");
      await other.publish("restart", "before");
      assert.equal((await sub.next({ timeout: 2000 }))?.message, "before");
      // A call in flight: a blocking one on its own connection, and a Lua
      // script busy on the main one.
      const blocked = rejection(db.blpop("restart:list", 0));
      await sleep(50); // connected and blocked
      const busy = rejection(db.eval(
        "local t = redis.call('TIME')[1] while redis.call('TIME')[1] - t < 5 do end",
        [],
      ));
      await sleep(100);
      await server.kill();
      for (const inFlight of [blocked, busy]) {
        const err = await inFlight;
        assert.ok(err instanceof RedisError, String(err));
        assert.match(err.message, /connection lost|connection reset|not connected/);
      }
      const down = await rejection(db.get("k"));
      assert.ok(down instanceof RedisError, String(down));
      assert.match(
        down.message,
        /^redis 127\.0\.0\.1:\d+\/0: GET: not connected \(reconnecting\)$/,
      );
      await server.start();
      await until("reconnect", () => db.connected && other.connected);
      assert.equal(await db.set("k", "after"), true);
      assert.equal(await db.get("k"), "after");
      // The subscription subscribed again by itself.
      await until("resubscribe", async () => (await other.publish("restart", "after")) === 1);
      assert.equal((await sub.next({ timeout: 2000 }))?.message, "after");
      await sub.close();
    } finally {
      await db.close();
      await other.close();
      await server.kill();
    }
  }),
);

Deno.test(
  "closing while the server is down ends at once",
  noLeaks(async () => {
    const port = freePort();
    const server = ownRedis(port);
    await server.start();
    const db = await redis.open({ port, maxReconnectDelay: 100 });
    try {
      const sub = await db.subscribe("down");
      const pending = sub.next();
      await server.kill();
      await until("the loss is seen", () => !db.connected);
      const started = Date.now();
      await db.close();
      assert.equal(await pending, null);
      assert.ok(Date.now() - started < 500, `close took ${Date.now() - started} ms`);
      // node-redis sleeps between reconnect attempts; let its last pause end.
      await sleep(150);
    } finally {
      await db.close();
      await server.kill();
    }
  }),
);

Deno.test(
  "closing the connection fails a blocked command with a clear error",
  noLeaks(async () => {
    const db = await redis.open(REDIS_URL);
    const blocked = rejection(db.blpop(uid(), 0));
    await sleep(50);
    await db.close();
    const err = await blocked;
    assert.ok(err instanceof RedisError && err.driverCode === "CLOSED", String(err));
    assert.match((err as Error).message, /: BLPOP: client closed$/);
  }),
);

Deno.test(
  "redis: open() against a server that does not speak RESP fails at once; a silent one within connectTimeout",
  noLeaks(async () => {
    const garbage = rawPeer(() => ({ reply: "HTTP/1.1 400 Bad Request\r\n\r\n" }));
    try {
      const started = Date.now();
      const err = await rejection(
        redis.open({ url: `redis://127.0.0.1:${garbage.port}`, connectTimeout: 5_000 }),
      );
      assert.ok(err instanceof ProtocolError, String(err));
      assert.match(err.message, /^redis 127\.0\.0\.1:\d+\/0: connect: not a Redis reply \(/);
      assert.ok(Date.now() - started < 4_000, "before connectTimeout");
    } finally {
      await garbage.close();
    }
    const silent = rawPeer();
    try {
      const err = await rejection(
        redis.open({ url: `redis://127.0.0.1:${silent.port}`, connectTimeout: 300 }),
      );
      assert.ok(err instanceof TimeoutError, String(err));
      // The client let go of its socket: the server reads its end.
      for (let i = 0; i < 100 && silent.open() > 0; i++) await sleep(10);
      assert.equal(silent.open(), 0, "the timed-out client's socket is closed");
    } finally {
      await silent.close();
    }
  }),
);

Deno.test(
  "a host that is a path connects to the server's Unix socket",
  noLeaks(async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "lunet_redis_" });
    const socket = `${dir}/redis.sock`;
    const server = ownRedis(freePort(), socket);
    await server.start();
    try {
      for (let i = 0; i < 200 && !(await Deno.stat(socket).then(() => true, () => false)); i++) {
        await sleep(10);
      }
      await t.step("as a field, as ?socket= and as the URL's encoded host", async () => {
        for (
          const config of [
            { host: socket },
            `redis://127.0.0.1/0?socket=${encodeURIComponent(socket)}`,
            `redis://${encodeURIComponent(socket)}/2`,
          ]
        ) {
          const db = await redis.open(config);
          try {
            const info = String(await db.command("CLIENT", "INFO"));
            assert.match(info, new RegExp(`laddr=${socket}:0 `), JSON.stringify(config));
            assert.equal(await db.command("SET", "lunet:unix", "über"), "OK");
            assert.equal(await db.command("GET", "lunet:unix"), "über");
          } finally {
            await db.close();
          }
        }
      });
      await t.step("a path with no server's socket fails the open, naming it", async () => {
        const err = await rejection(redis.open({ host: `${socket}.none` }));
        assert.ok(err instanceof RedisError, String(err));
        assert.match((err as Error).message, new RegExp(`^redis ${socket}\\.none/0: connect: `));
      });
    } finally {
      await server.kill();
      await Deno.remove(dir, { recursive: true });
    }
  }),
);

import assert from "node:assert/strict";
import { DbError, sleep } from "../mod.ts";
import * as postgres from "../drivers/postgres.ts";
import type { Db } from "../drivers/_types.ts";
import { noLeaks } from "./leak.ts";
import { rejection } from "./rejection.ts";
import { rawPeer } from "./net_helpers.ts";
import { clusterTest, startCluster } from "./pg_cluster.ts";
import { dbTest, giveUpThenNext, pattern, POSTGRES_URL, target } from "./db_targets.ts";

const t = target("postgres");

/**
 * A TCP relay to the server that passes each direction on in writes of 1
 * to 7 bytes, so every message boundary, length field and UTF-8 sequence
 * is split somewhere in a run. `openings` holds the first 8 bytes each
 * client sent. Connections after the first `passed` are held: read and
 * never answered.
 */
function splittingRelay(to: { hostname: string; port: number }, passed = Infinity) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const openings: number[][] = [];
  const pipe = async (from: Deno.Conn, into: Deno.TcpConn | undefined, opening?: number[]) => {
    const buf = new Uint8Array(16 * 1024);
    let size = 0;
    try {
      for (let n; (n = await from.read(buf)) !== null;) {
        if (opening && opening.length < 8) {
          opening.push(...buf.subarray(0, Math.min(n, 8 - opening.length)));
        }
        if (into === undefined) continue;
        for (let off = 0; off < n;) {
          const end = Math.min(n, off + 1 + (size++ % 7));
          for (let w = off; w < end;) w += await into.write(buf.subarray(w, end));
          off = end;
        }
      }
      await into?.closeWrite();
    } catch { /* the other side went away */ }
  };
  const relays: Promise<unknown>[] = [];
  const accepting = (async () => {
    for await (const client of listener) {
      const opening: number[] = [];
      openings.push(opening);
      if (openings.length > passed) {
        conns.add(client);
        relays.push(pipe(client, undefined, opening));
        continue;
      }
      const server = await Deno.connect(to);
      client.setNoDelay(true);
      server.setNoDelay(true);
      conns.add(client).add(server);
      relays.push(
        Promise.all([pipe(client, server, opening), pipe(server, client)]).finally(() => {
          for (const c of [client, server]) if (conns.delete(c)) c.close();
        }),
      );
    }
  })();
  return {
    port: listener.addr.port,
    openings,
    async close() {
      listener.close();
      await accepting;
      for (const c of conns) c.close();
      conns.clear();
      await Promise.all(relays);
    },
  };
}

/** Statements whose answers cover every kind of backend message lunet reads. */
async function answers(db: Db): Promise<unknown[]> {
  const out: unknown[] = [];
  const settle = (p: Promise<unknown>) =>
    p.then((v) => out.push(v), (e) => out.push(e instanceof DbError ? [e.sqlState, e.message] : e));
  await settle(db.queryOne(
    `SELECT $1::int AS a, $2::text AS b, $3::bytea AS c, $4::jsonb AS d,
            $5::timestamptz AS e, $6::int8[] AS f, NULL::text AS g`,
    -7,
    "héllo wörld 😀 中文 \u{10FFFF}",
    pattern(30_000),
    { k: ["v", 1] },
    new Date("2024-02-29T12:34:56.789Z"),
    [1n, null, 9007199254740993n],
  ));
  await settle(db.query("SELECT g, repeat('é', g % 40) AS s FROM generate_series(1, 3000) g"));
  await settle(db.query("SELECT 1 AS x; SELECT 'two' AS y"));
  await settle(db.query("SELECT 1 / $1::int AS boom", 0));
  await settle(db.exec("DO $$ BEGIN RAISE NOTICE 'a notice for the client'; END $$"));
  await settle(db.exec("SELECT 1 FROM generate_series(1, 5)"));
  await settle(db.query(""));
  await settle(Promise.all(
    Array.from({ length: 50 }, (_, i) => db.queryOne("SELECT $1::int * 2 AS n", i)),
  ));
  return out;
}

dbTest(
  t,
  "wire: replies and requests split at every boundary read as they do unsplit",
  noLeaks(async () => {
    const url = new URL(POSTGRES_URL);
    const relay = splittingRelay({ hostname: url.hostname, port: Number(url.port || 5432) });
    const direct = await t.open(2);
    const split = await postgres.open({ url: POSTGRES_URL, port: relay.port, pool: 2 });
    try {
      const want = await answers(direct);
      const got = await answers(split);
      assert.deepEqual(
        got,
        want.map((x) =>
          Array.isArray(x) && typeof x[1] === "string"
            ? [x[0], x[1].replace(`:${url.port || 5432}/`, `:${relay.port}/`)]
            : x
        ),
      );
      assert.deepEqual(want[3], [
        "22012",
        `query postgres ${url.hostname}:${
          url.port || 5432
        }/test: division by zero (SQLSTATE 22012)`,
      ]);
    } finally {
      await split.close();
      await direct.close();
      await relay.close();
    }
  }),
);

Deno.test(
  "wire: a peer that answers in another protocol fails open() at once with a ProtocolError",
  noLeaks(async () => {
    const replies = [
      "HTTP/1.1 400 Bad Request\r\n\r\n",
      "-ERR unknown command\r\n",
      "R\x7f\x7f\x7f\x7f", // an authentication request of 2 GiB
    ];
    for (const reply of replies) {
      const peer = rawPeer(() => ({ reply }));
      try {
        const started = Date.now();
        const err = await rejection(
          postgres.open({ host: "127.0.0.1", port: peer.port, connectTimeout: 10_000 }),
        );
        assert.equal((err as Error).name, "ProtocolError", String(err));
        assert.match((err as Error).message, /not PostgreSQL's protocol \(message 0x/);
        assert.ok(Date.now() - started < 5_000, `${Date.now() - started} ms`);
      } finally {
        await peer.close();
      }
    }
  }),
);

clusterTest(
  "wire: SCRAM-SHA-256, MD5 and cleartext passwords on a cluster that asks for them",
  async (bin, ctx) => {
    const pg = await startCluster(bin, [
      ["host", "all", "lunet_clear", "password"],
      ["host", "all", "lunet_md5", "md5"],
      ["host", "all", "all", "scram-sha-256"],
    ]);
    try {
      await pg.psql(`SET password_encryption = 'md5';
      CREATE ROLE lunet_md5 LOGIN PASSWORD 'md5 secret';
      SET password_encryption = 'scram-sha-256';
      CREATE ROLE lunet_scram LOGIN PASSWORD 'scram sécret ☃';
      CREATE ROLE lunet_clear LOGIN PASSWORD 'clear secret'`);
      const users = [
        ["lunet_scram", "scram sécret ☃"],
        ["lunet_md5", "md5 secret"],
        ["lunet_clear", "clear secret"],
      ];
      for (const [user, password] of users) {
        await ctx.step(user, async () => {
          const cfg = { host: "127.0.0.1", port: pg.port, user, database: "postgres" };
          const db = await postgres.open({ ...cfg, password, pool: 1 });
          try {
            assert.deepEqual(await db.queryOne("SELECT current_user AS u, $1::int AS n", 5), {
              u: user,
              n: 5,
            });
          } finally {
            await db.close();
          }
          const wrong = await rejection(postgres.open({ ...cfg, password: "wrong" }));
          assert.ok(wrong instanceof DbError, String(wrong));
          assert.equal(wrong.sqlState, "28P01", wrong.message);
          assert.match(wrong.message, /password authentication failed for user/);
          const none = await rejection(postgres.open(cfg));
          assert.ok(none instanceof DbError, String(none));
          assert.match(none.message, /asks for a password and none was given/);
        });
      }
    } finally {
      await pg.stop();
    }
  },
);

dbTest(
  t,
  "wire: a connection keeps at most 500 statements prepared, closing the oldest",
  noLeaks(async () => {
    const db = await t.open(1);
    try {
      for (let i = 0; i < 600; i++) {
        assert.deepEqual(await db.queryOne(`SELECT $1::int + ${i} AS n`, 1), { n: i + 1 });
      }
      const row = await db.queryOne<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_prepared_statements",
      );
      assert.ok(row!.n <= 500 && row!.n > 400, `${row!.n} statements prepared`);
      assert.deepEqual(await db.queryOne("SELECT $1::int + 0 AS n", 5), { n: 5 });
    } finally {
      await db.close();
    }
  }),
);

clusterTest(
  "wire: a server killed under running statements fails each with a DbError; the pool connects again once it is back",
  async (bin) => {
    const pg = await startCluster(bin, [["host", "all", "all", "trust"]]);
    const db = await postgres.open({
      host: "127.0.0.1",
      port: pg.port,
      database: "postgres",
      pool: 2,
      connectTimeout: 2000,
    });
    try {
      assert.deepEqual(await db.queryOne("SELECT 1 AS n"), { n: 1 });
      const running = [
        rejection(db.exec("SELECT pg_sleep(30)")),
        ...Array.from(
          { length: 20 },
          (_, i) => rejection(db.queryOne("SELECT pg_sleep(5), $1::int AS n", i)),
        ),
      ];
      await sleep(300);
      const killed = Date.now();
      await pg.kill();
      for (const err of await Promise.all(running)) assert.ok(err instanceof DbError, String(err));
      assert.ok(Date.now() - killed < 5000, `${Date.now() - killed} ms`);
      const refused = await rejection(db.queryOne("SELECT 1 AS n"));
      assert.ok(refused instanceof DbError, String(refused));
      assert.match(refused.message, /connection refused/);
      await pg.start();
      assert.deepEqual(await db.queryOne("SELECT $1::int AS n", 9), { n: 9 });
      assert.deepEqual(await db.exec("SELECT 1"), { affectedRows: 1, lastInsertId: 1 });
    } finally {
      await db.close();
      await pg.stop();
    }
  },
);

dbTest(
  t,
  "wire: a cancel request that the server never takes gives up after connectTimeout",
  noLeaks(async () => {
    const url = new URL(POSTGRES_URL);
    // The session's connection passes; the cancel request's is held, unanswered.
    const relay = splittingRelay({ hostname: url.hostname, port: Number(url.port || 5432) }, 1);
    const db = await postgres.open({
      url: POSTGRES_URL,
      port: relay.port,
      pool: 1,
      connectTimeout: 300,
    });
    try {
      // The connection is free once the statement ends on its own, not
      // held by the cancel request.
      await giveUpThenNext(db, "SELECT pg_sleep(1.5)", 100);
      assert.equal(relay.openings.length, 2);
    } finally {
      await db.close();
      await relay.close();
    }
  }),
);

clusterTest(
  "wire: a host that is a path connects to the server's Unix socket",
  async (bin, ctx) => {
    const pg = await startCluster(bin, [["host", "all", "all", "reject"]]);
    const dir = pg.socketDir;
    const onSocket = "SELECT inet_server_addr() IS NULL AS unix, $1::text AS t";
    try {
      await ctx.step("as a field, as ?host= and as the URL's encoded host", async () => {
        for (
          const config of [
            { host: dir, port: pg.port, database: "postgres" },
            { url: `postgres:///postgres?host=${encodeURIComponent(dir)}`, port: pg.port },
            `postgres://postgres@${encodeURIComponent(dir)}:${pg.port}/postgres`,
          ]
        ) {
          const db = await postgres.open(config);
          try {
            assert.deepEqual(await db.queryOne(onSocket, "über"), { unix: true, t: "über" });
          } finally {
            await db.close();
          }
        }
      });
      await ctx.step(
        "a cancel request goes over the socket too; TLS is not used there",
        async () => {
          const db = await postgres.open({
            host: dir,
            port: pg.port,
            database: "postgres",
            tls: true,
            pool: 1,
          });
          try {
            await giveUpThenNext(db, "SELECT pg_sleep(30)");
          } finally {
            await db.close();
          }
        },
      );
      await ctx.step("TCP is refused by this cluster's pg_hba.conf", async () => {
        const err = await rejection(postgres.open({ port: pg.port, database: "postgres" }));
        assert.ok(err instanceof DbError, String(err));
        assert.match(err.message, /pg_hba\.conf rejects connection/);
      });
      await ctx.step("a directory with no server's socket in it fails the open", async () => {
        const err = await rejection(postgres.open({ host: dir, port: pg.port + 1 }));
        assert.ok(err instanceof DbError, String(err));
        assert.match(err.message, /No such file|not found|ENOENT/i);
      });
    } finally {
      await pg.stop();
    }
  },
);

const TLS = new URL("./fixtures/tls/", import.meta.url).pathname;
/** An SSLRequest: length 8, code 80877103. */
const SSL_REQUEST = [0, 0, 0, 8, 4, 210, 22, 47];

clusterTest("wire: TLS on a cluster that takes only encrypted connections", async (bin, ctx) => {
  const pg = await startCluster(
    bin,
    [["hostssl", "all", "all", "scram-sha-256"]],
    { cert: `${TLS}leaf.pem`, key: `${TLS}leaf.key` },
  );
  const caCerts = [await Deno.readTextFile(`${TLS}ca.pem`)];
  const cfg = { host: "127.0.0.1", port: pg.port, database: "postgres", password: "tls secret" };
  try {
    await pg.psql("ALTER ROLE postgres PASSWORD 'tls secret'");
    await ctx.step("with the CA: encrypted, statements and cancels work", async () => {
      const db = await postgres.open({ ...cfg, tls: { caCerts }, pool: 1 });
      try {
        assert.deepEqual(
          await db.queryOne(
            "SELECT ssl, $1::text AS t FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            "über",
          ),
          { ssl: true, t: "über" },
        );
        const err = await rejection(db.query({ sql: "SELECT pg_sleep(5)", timeout: 200 }));
        assert.equal((err as Error).name, "TimeoutError", String(err));
        assert.deepEqual(await db.queryOne("SELECT 2 AS n"), { n: 2 });
      } finally {
        await db.close();
      }
    });
    await ctx.step("a cancel request is encrypted too, and stops the statement", async () => {
      const relay = splittingRelay({ hostname: "127.0.0.1", port: pg.port });
      const db = await postgres.open({ ...cfg, port: relay.port, tls: { caCerts }, pool: 1 });
      try {
        await giveUpThenNext(db, "SELECT pg_sleep(30)");
        // SSLRequest opens both connections: the session's and the cancel request's.
        assert.deepEqual(relay.openings, [SSL_REQUEST, SSL_REQUEST]);
      } finally {
        await db.close();
        await relay.close();
      }
    });
    await ctx.step("without TLS: the server's refusal", async () => {
      const err = await rejection(postgres.open(cfg));
      assert.ok(err instanceof DbError, String(err));
      assert.match(err.message, /no encryption/);
    });
    await ctx.step("a certificate of an unknown CA is refused", async () => {
      const err = await rejection(postgres.open({ ...cfg, tls: true }));
      assert.ok(err instanceof Error, String(err));
      assert.match((err as Error).message, /certificate|UnknownIssuer/i);
    });
    await ctx.step("a bad sslmode or tls setting is refused before connecting", async () => {
      const url = `postgres://postgres@127.0.0.1:${pg.port}/postgres?sslmode=sometimes`;
      assert.ok((await rejection(postgres.open(url))) instanceof TypeError);
      const bad = { ...cfg, tls: { caCerts: "x" } } as unknown as postgres.PostgresConfig;
      assert.ok((await rejection(postgres.open(bad))) instanceof TypeError);
    });
  } finally {
    await pg.stop();
  }
});

dbTest(
  t,
  "wire: TLS asked of a server that declines it fails the connection",
  noLeaks(async () => {
    const err = await rejection(postgres.open({ url: `${POSTGRES_URL}?sslmode=require` }));
    assert.ok(err instanceof DbError, String(err));
    assert.match(err.message, /the server does not accept TLS/);
  }),
);

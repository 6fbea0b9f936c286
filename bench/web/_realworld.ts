/**
 * The RealWorld app under load: examples/realworld in a process of its
 * own on SQLite (a temporary file) and on PostgreSQL (a database of its
 * own), seeded over its API with 3 users, 30 articles with tags,
 * favourites and follows, then `GET /api/articles` (a page of 20 with
 * authors, tags and counts: three statements) and `GET
 * /api/articles/:slug` (two statements).
 *
 * @module
 */
import { createEmptyDatabase, dropDatabase } from "./_db.ts";
import { measureAlone, type Row } from "./_measure.ts";
import { type Peer, start, stop } from "./_procs.ts";

const MAIN = new URL("../../examples/realworld/main.ts", import.meta.url).pathname;

async function call(base: string, method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Token ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Seeds the app at `base` (…/api); returns the slug of one article. */
async function seed(base: string): Promise<string> {
  const tokens: string[] = [];
  for (const name of ["alice", "bob", "carol"]) {
    const r = await call(base, "POST", "/users", "", {
      user: { username: name, email: `${name}@example.com`, password: "password" },
    });
    tokens.push(r.user.token);
  }
  const slugs: string[] = [];
  for (let i = 0; i < 30; i++) {
    const r = await call(base, "POST", "/articles", tokens[i % 3], {
      article: {
        title: `Article number ${i}`,
        description: `What article ${i} is about`,
        body: `The body of article ${i}. `.repeat(20),
        tagList: [`tag${i % 5}`, `topic${i % 3}`, "lunet"],
      },
    });
    slugs.push(r.article.slug);
  }
  for (let i = 0; i < 30; i += 2) {
    await call(base, "POST", `/articles/${slugs[i]}/favorite`, tokens[(i + 1) % 3]);
  }
  await call(base, "POST", "/profiles/bob/follow", tokens[0]);
  return slugs[7];
}

/** Measures both endpoints on SQLite and on PostgreSQL. */
export async function benchRealWorld(
  adminUrl: string,
  seconds: number,
  smoke: boolean,
): Promise<{ db: string; endpoint: string; row: Row }[]> {
  const out: { db: string; endpoint: string; row: Row }[] = [];
  const file = Deno.makeTempFileSync({ prefix: "realworld_bench_", suffix: ".db" });
  const pgName = `lunet_web_realworld_${Deno.pid}`;
  const targets = [
    { db: "SQLite", url: file },
    { db: "PostgreSQL", url: await createEmptyDatabase(adminUrl, pgName) },
  ];
  try {
    for (const [i, t] of targets.entries()) {
      const peer: Peer = {
        name: `realworld (${t.db})`,
        port: 18410 + i,
        cmd: [Deno.execPath(), "run", "-A", MAIN],
        env: {
          REALWORLD_DB: t.url,
          REALWORLD_PORT: String(18410 + i),
          REALWORLD_JWT_SECRET: "a benchmark secret of thirty-two bytes",
        },
      };
      await start(peer, "/api/tags");
      try {
        const base = `http://127.0.0.1:${peer.port}/api`;
        const slug = await seed(base);
        const load = { connections: 50, depth: 1 };
        for (const endpoint of ["/api/articles", `/api/articles/${slug}`]) {
          const row = await measureAlone(peer, endpoint, load, seconds, smoke);
          out.push({ db: t.db, endpoint: endpoint.replace(slug, ":slug"), row });
        }
      } finally {
        await stop(peer);
      }
    }
  } finally {
    await dropDatabase(adminUrl, pgName);
    for (const suffix of ["", "-wal", "-shm"]) {
      try {
        Deno.removeSync(file + suffix);
      } catch { /* not created */ }
    }
  }
  return out;
}

/**
 * Schema migrations, applied in order at start: each runs once, in a
 * transaction, and is recorded in `schema_migrations`. Every migration
 * has its SQLite and its PostgreSQL text; add new ones at the end.
 *
 * @module
 */
import type { Dialect, Store } from "./database.ts";

/** One schema change. */
export interface Migration {
  /** Its number: migrations run in ascending order, each once. */
  version: number;
  /** What it does. */
  name: string;
  /** Its statements, per dialect. */
  sql: Record<Dialect, string[]>;
}

const TABLES = (id: string, time: string): string[] => [
  `CREATE TABLE users (
    id ${id},
    username TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    bio TEXT,
    image TEXT,
    created_at ${time} NOT NULL,
    updated_at ${time} NOT NULL)`,
  `CREATE TABLE follows (
    follower_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followee_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (follower_id, followee_id))`,
  `CREATE TABLE articles (
    id ${id},
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    body TEXT NOT NULL,
    author_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at ${time} NOT NULL,
    updated_at ${time} NOT NULL)`,
  "CREATE INDEX articles_author ON articles (author_id)",
  "CREATE INDEX articles_created ON articles (created_at)",
  `CREATE TABLE tags (id ${id}, name TEXT NOT NULL UNIQUE)`,
  `CREATE TABLE article_tags (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (article_id, tag_id))`,
  "CREATE INDEX article_tags_tag ON article_tags (tag_id)",
  `CREATE TABLE favorites (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, article_id))`,
  "CREATE INDEX favorites_article ON favorites (article_id)",
  `CREATE TABLE comments (
    id ${id},
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    author_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    created_at ${time} NOT NULL,
    updated_at ${time} NOT NULL)`,
  "CREATE INDEX comments_article ON comments (article_id)",
];

/** The app's migrations, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "users, follows, articles, tags, favorites, comments",
    sql: {
      sqlite: TABLES("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT"),
      postgres: TABLES("SERIAL PRIMARY KEY", "TIMESTAMPTZ"),
    },
  },
  {
    version: 2,
    name: "settings (the token signing key)",
    sql: {
      sqlite: ["CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)"],
      postgres: ["CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)"],
    },
  },
];

/**
 * Applies the migrations `store` has not seen yet; returns the versions
 * applied now.
 *
 * @example
 * ```ts
 * import { openStore } from "./database.ts";
 * import { migrate } from "./migrations.ts";
 * const store = await openStore(":memory:");
 * const first = await migrate(store);
 * const again = await migrate(store);
 * if (first.length === 0 || again.length !== 0) throw new Error("each migration runs once");
 * await store.close();
 * ```
 */
export async function migrate(
  store: Store,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  await store.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations " +
      "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
  );
  const done = new Set(
    (await store.query<{ version: number }>("SELECT version FROM schema_migrations"))
      .map((r) => Number(r.version)),
  );
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(m.version)) continue;
    await store.transaction(async (tx) => {
      for (const sql of m.sql[store.dialect]) await tx.exec(sql);
      await tx.exec(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        m.version,
        m.name,
        new Date().toISOString(),
      );
    });
    applied.push(m.version);
  }
  return applied;
}

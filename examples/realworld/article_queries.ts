/**
 * Reading articles: one statement selects a page of articles with their
 * author, favourite count, the viewer's `favorited` / `following` and
 * their tags (as one JSON array per article), and a second one counts
 * every match for `articlesCount`. Filters (`tag`, `author`, `favorited`, the feed) are
 * fixed SQL fragments with bound values.
 *
 * @module
 */
import type { Dialect, Store } from "./database.ts";
import type { Page } from "./input.ts";
import { type Article, articleJson, type ArticleRow } from "./views.ts";

/** A filter: a SQL condition on `a` (articles) and `u` (authors) and its values. */
export interface Filter {
  /** The condition. */
  where: string;
  /** Values of its placeholders. */
  params: unknown[];
}

/** The id used for an anonymous viewer (no user has it). */
export const NOBODY = 0;

// The tags of `a` as one JSON array, so a page is one row per article.
const TAGS: Record<Dialect, string> = {
  sqlite: "(SELECT json_group_array(t.name) FROM article_tags at JOIN tags t ON t.id = at.tag_id " +
    "WHERE at.article_id = a.id)",
  postgres: "(SELECT COALESCE(json_agg(t.name), '[]'::json) FROM article_tags at " +
    "JOIN tags t ON t.id = at.tag_id WHERE at.article_id = a.id)",
};

const selects = new Map<string, string>();

/** The SELECT of articles with their author, counts, the viewer's flags and tags. */
function select(dialect: Dialect, withBody: boolean): string {
  const key = `${dialect}:${withBody}`;
  let sql = selects.get(key);
  if (sql === undefined) {
    sql = `SELECT a.id, a.slug, a.title, a.description, ${withBody ? "a.body, " : ""}
  a.created_at, a.updated_at, u.username, u.bio, u.image,
  (SELECT COUNT(*) FROM favorites f WHERE f.article_id = a.id) AS favorites_count,
  EXISTS (SELECT 1 FROM favorites f WHERE f.article_id = a.id AND f.user_id = ?) AS favorited,
  EXISTS (SELECT 1 FROM follows fo WHERE fo.followee_id = a.author_id AND fo.follower_id = ?)
    AS following,
  ${TAGS[dialect]} AS tags
FROM articles a JOIN users u ON u.id = a.author_id`;
    selects.set(key, sql);
  }
  return sql;
}

const FROM_COUNT = "SELECT COUNT(*) AS n FROM articles a JOIN users u ON u.id = a.author_id";

/** Articles tagged `tag`. */
export function byTag(tag: string): Filter {
  return {
    where: "a.id IN (SELECT at.article_id FROM article_tags at " +
      "JOIN tags t ON t.id = at.tag_id WHERE t.name = ?)",
    params: [tag],
  };
}

/** Articles written by `username`. */
export function byAuthor(username: string): Filter {
  return { where: "u.username = ?", params: [username] };
}

/** Articles `username` has favourited. */
export function favoritedBy(username: string): Filter {
  return {
    where: "a.id IN (SELECT f.article_id FROM favorites f " +
      "JOIN users fu ON fu.id = f.user_id WHERE fu.username = ?)",
    params: [username],
  };
}

/** Articles by the authors `userId` follows (the feed). */
export function followedBy(userId: number): Filter {
  return {
    where: "a.author_id IN (SELECT followee_id FROM follows WHERE follower_id = ?)",
    params: [userId],
  };
}

function whereOf(filters: Filter[]): { sql: string; params: unknown[] } {
  if (filters.length === 0) return { sql: "", params: [] };
  return {
    sql: " WHERE " + filters.map((f) => f.where).join(" AND "),
    params: filters.flatMap((f) => f.params),
  };
}

/** The tags column as a sorted list (SQLite answers JSON text, PostgreSQL a parsed array). */
function tagList(value: unknown): string[] {
  const tags = (typeof value === "string" ? JSON.parse(value) : value ?? []) as string[];
  return tags.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * One page of articles matching every filter, most recent first, and the
 * count of all matches.
 *
 * @example
 * ```ts ignore
 * const { articles, articlesCount } = await listArticles(store, [byTag("dragons")], NOBODY, page);
 * ```
 */
export async function listArticles(
  store: Store,
  filters: Filter[],
  viewer: number,
  page: Page,
): Promise<{ articles: Article[]; articlesCount: number }> {
  const w = whereOf(filters);
  const [rows, count] = await Promise.all([
    store.query<ArticleRow & { tags: unknown }>(
      `${
        select(store.dialect, false)
      }${w.sql} ORDER BY a.created_at DESC, a.id DESC LIMIT ? OFFSET ?`,
      viewer,
      viewer,
      ...w.params,
      page.limit,
      page.offset,
    ),
    store.queryOne<{ n: unknown }>(`${FROM_COUNT}${w.sql}`, ...w.params),
  ]);
  return {
    articles: rows.map((r) => articleJson(r, tagList(r.tags), false)),
    articlesCount: Number(count?.n ?? 0),
  };
}

/**
 * The article with `slug` as `viewer` sees it, or `null`.
 *
 * @example
 * ```ts ignore
 * const article = await articleBySlug(store, "how-to-train-your-dragon", NOBODY);
 * ```
 */
export async function articleBySlug(
  store: Store,
  slug: string,
  viewer: number,
): Promise<Article | null> {
  const row = await store.queryOne<ArticleRow & { tags: unknown }>(
    `${select(store.dialect, true)} WHERE a.slug = ?`,
    viewer,
    viewer,
    slug,
  );
  return row ? articleJson(row, tagList(row.tags), true) : null;
}

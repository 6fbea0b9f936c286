/**
 * Reading articles: one statement selects a page of articles with their
 * author, favourite count and the viewer's `favorited` / `following`,
 * a second one their tags, and a third counts every match for
 * `articlesCount`. Filters (`tag`, `author`, `favorited`, the feed) are
 * fixed SQL fragments with bound values.
 *
 * @module
 */
import type { Store } from "./database.ts";
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

const SELECT = `SELECT a.id, a.slug, a.title, a.description, a.body, a.created_at, a.updated_at,
  u.username, u.bio, u.image,
  (SELECT COUNT(*) FROM favorites f WHERE f.article_id = a.id) AS favorites_count,
  EXISTS (SELECT 1 FROM favorites f WHERE f.article_id = a.id AND f.user_id = ?) AS favorited,
  EXISTS (SELECT 1 FROM follows fo WHERE fo.followee_id = a.author_id AND fo.follower_id = ?)
    AS following
FROM articles a JOIN users u ON u.id = a.author_id`;

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

/** Tags of each article in `ids`, sorted by code point. */
async function tagsOf(store: Store, ids: number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return out;
  const rows = await store.query<{ id: number; name: string }>(
    "SELECT at.article_id AS id, t.name FROM article_tags at JOIN tags t ON t.id = at.tag_id " +
      `WHERE at.article_id IN (${ids.map(() => "?").join(", ")})`,
    ...ids,
  );
  for (const r of rows) out.get(Number(r.id))?.push(r.name);
  for (const tags of out.values()) tags.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return out;
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
    store.query<ArticleRow>(
      `${SELECT}${w.sql} ORDER BY a.created_at DESC, a.id DESC LIMIT ? OFFSET ?`,
      viewer,
      viewer,
      ...w.params,
      page.limit,
      page.offset,
    ),
    store.queryOne<{ n: unknown }>(`${FROM_COUNT}${w.sql}`, ...w.params),
  ]);
  const tags = await tagsOf(store, rows.map((r) => Number(r.id)));
  return {
    articles: rows.map((r) => articleJson(r, tags.get(Number(r.id)) ?? [], false)),
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
  const row = await store.queryOne<ArticleRow>(`${SELECT} WHERE a.slug = ?`, viewer, viewer, slug);
  if (!row) return null;
  const tags = await tagsOf(store, [Number(row.id)]);
  return articleJson(row, tags.get(Number(row.id)) ?? [], true);
}

/**
 * Articles: the list with its filters (`GET /api/articles?tag=&author=
 * &favorited=&limit=&offset=`), the feed (`GET /api/articles/feed`), one
 * article (`GET /api/articles/:slug`), create, update (a new title makes a
 * new slug), delete, and favourites (`POST` / `DELETE
 * /api/articles/:slug/favorite`).
 *
 * @module
 */
import { json, respond, type Router } from "../../src/http/mod.ts";
import {
  articleBySlug,
  byAuthor,
  byTag,
  favoritedBy,
  type Filter,
  followedBy,
  listArticles,
  NOBODY,
} from "./article_queries.ts";
import { optionalViewer, requireViewer } from "./auth.ts";
import type { AppContext } from "./context.ts";
import { isUniqueViolation, type Store } from "./database.ts";
import { ApiError } from "./errors.ts";
import { pageOf, readFields } from "./input.ts";
import { slugify, withSuffix } from "./slug.ts";
import type { Article } from "./views.ts";

/** The id and author of the article with `slug`, or a 404. */
export async function findArticle(
  store: Store,
  slug: string,
): Promise<{ id: number; authorId: number }> {
  const row = await store.queryOne<{ id: number; author_id: number }>(
    "SELECT id, author_id FROM articles WHERE slug = ?",
    slug,
  );
  if (!row) throw ApiError.notFound("article");
  return { id: Number(row.id), authorId: Number(row.author_id) };
}

/** The article with `slug` as `viewer` sees it, or a 404. */
async function mustRead(store: Store, slug: string, viewer: number): Promise<Article> {
  const article = await articleBySlug(store, slug, viewer);
  if (!article) throw ApiError.notFound("article");
  return article;
}

/** Links `tags` (created when new) to article `id`. */
async function linkTags(tx: Store, id: number, tags: string[]): Promise<void> {
  for (const name of tags) {
    await tx.exec("INSERT INTO tags (name) VALUES (?) ON CONFLICT (name) DO NOTHING", name);
    await tx.exec(
      "INSERT INTO article_tags (article_id, tag_id) SELECT ?, id FROM tags WHERE name = ?",
      id,
      name,
    );
  }
}

/**
 * Runs `write(slug)` with the slug of `title`, or with a suffixed one when
 * that is taken (checked first, and again by the unique index).
 */
async function withFreeSlug<T>(
  store: Store,
  title: string,
  write: (slug: string) => Promise<T>,
): Promise<T> {
  const base = slugify(title);
  const used = await store.queryOne("SELECT 1 AS x FROM articles WHERE slug = ?", base);
  for (let attempt = 0;; attempt++) {
    const slug = attempt === 0 && !used ? base : withSuffix(base);
    try {
      return await write(slug);
    } catch (err) {
      if (!isUniqueViolation(err) || attempt >= 4) throw err;
    }
  }
}

/**
 * Adds the article and favourite routes to `router`.
 *
 * @example
 * ```ts ignore
 * addArticleRoutes(router, ctx);
 * ```
 */
export function addArticleRoutes(router: Router, ctx: AppContext): void {
  const { store, jwt } = ctx;

  router.get("/api/articles", async (req) => {
    const viewer = await optionalViewer(req, jwt);
    const q = req.query;
    const page = pageOf(q);
    const filters: Filter[] = [];
    const tag = q.get("tag"), author = q.get("author"), favorited = q.get("favorited");
    if (tag) filters.push(byTag(tag));
    if (author) filters.push(byAuthor(author));
    if (favorited) filters.push(favoritedBy(favorited));
    return await listArticles(store, filters, viewer?.id ?? NOBODY, page);
  });

  router.get("/api/articles/feed", async (req) => {
    const viewer = await requireViewer(req, jwt);
    return await listArticles(store, [followedBy(viewer.id)], viewer.id, pageOf(req.query));
  });

  router.get("/api/articles/:slug", async (req) => {
    const viewer = await optionalViewer(req, jwt);
    return { article: await mustRead(store, req.params.slug, viewer?.id ?? NOBODY) };
  });

  router.post("/api/articles", async (req) => {
    const viewer = await requireViewer(req, jwt);
    const f = await readFields(req, "article");
    const title = f.required("title");
    const description = f.required("description");
    const body = f.required("body");
    const tags = f.tags("tagList") ?? [];
    f.done();
    const now = new Date().toISOString();
    const slug = await withFreeSlug(store, title, (slug) =>
      store.transaction(async (tx) => {
        const id = await tx.insert(
          "INSERT INTO articles (slug, title, description, body, author_id, created_at, " +
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
          slug,
          title,
          description,
          body,
          viewer.id,
          now,
          now,
        );
        await linkTags(tx, id, tags);
        return slug;
      }));
    return json({ article: await mustRead(store, slug, viewer.id) }, { status: 201 });
  });

  router.put("/api/articles/:slug", async (req) => {
    const viewer = await requireViewer(req, jwt);
    const f = await readFields(req, "article");
    const title = f.optional("title");
    const description = f.optional("description");
    const body = f.optional("body");
    const tags = f.tags("tagList");
    f.done();
    const { id, authorId } = await findArticle(store, req.params.slug);
    if (authorId !== viewer.id) throw ApiError.forbidden("article");
    const update = (slug: string) =>
      store.transaction(async (tx) => {
        await tx.exec(
          "UPDATE articles SET slug = ?, title = COALESCE(?, title), " +
            "description = COALESCE(?, description), body = COALESCE(?, body), updated_at = ? " +
            "WHERE id = ?",
          slug,
          title ?? null,
          description ?? null,
          body ?? null,
          new Date().toISOString(),
          id,
        );
        if (tags !== undefined) {
          await tx.exec("DELETE FROM article_tags WHERE article_id = ?", id);
          await linkTags(tx, id, tags);
        }
        return slug;
      });
    const current = req.params.slug;
    const slug = title !== undefined && slugify(title) !== current
      ? await withFreeSlug(store, title, update)
      : await update(current);
    return { article: await mustRead(store, slug, viewer.id) };
  });

  router.delete("/api/articles/:slug", async (req) => {
    const viewer = await requireViewer(req, jwt);
    const { id, authorId } = await findArticle(store, req.params.slug);
    if (authorId !== viewer.id) throw ApiError.forbidden("article");
    await store.transaction(async (tx) => {
      for (const table of ["comments", "favorites", "article_tags"]) {
        await tx.exec(`DELETE FROM ${table} WHERE article_id = ?`, id);
      }
      await tx.exec("DELETE FROM articles WHERE id = ?", id);
    });
    return respond(null, { status: 204 });
  });

  router.post("/api/articles/:slug/favorite", async (req) => {
    const viewer = await requireViewer(req, jwt);
    const { id } = await findArticle(store, req.params.slug);
    await store.exec(
      "INSERT INTO favorites (user_id, article_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
      viewer.id,
      id,
    );
    return { article: await mustRead(store, req.params.slug, viewer.id) };
  });

  router.delete("/api/articles/:slug/favorite", async (req) => {
    const viewer = await requireViewer(req, jwt);
    const { id } = await findArticle(store, req.params.slug);
    await store.exec("DELETE FROM favorites WHERE user_id = ? AND article_id = ?", viewer.id, id);
    return { article: await mustRead(store, req.params.slug, viewer.id) };
  });
}

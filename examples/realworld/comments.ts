/**
 * Comments on an article: list (`GET /api/articles/:slug/comments`, auth
 * optional), add (`POST`, auth required) and delete (`DELETE
 * /api/articles/:slug/comments/:id`, by the comment's author only).
 *
 * @module
 */
import { respond, type Router } from "../../src/http/mod.ts";
import { NOBODY } from "./article_queries.ts";
import { findArticle } from "./articles.ts";
import { optionalViewer, requireViewer } from "./auth.ts";
import type { AppContext } from "./context.ts";
import { ApiError } from "./errors.ts";
import { readFields } from "./input.ts";
import { commentJson, type CommentRow } from "./views.ts";

const SELECT = `SELECT c.id, c.body, c.created_at, c.updated_at, u.username, u.bio, u.image,
  EXISTS (SELECT 1 FROM follows fo WHERE fo.followee_id = c.author_id AND fo.follower_id = ?)
    AS following
FROM comments c JOIN users u ON u.id = c.author_id`;

/**
 * Adds the comment routes to `router`.
 *
 * @example
 * ```ts ignore
 * addCommentRoutes(router, ctx);
 * ```
 */
export function addCommentRoutes(router: Router, ctx: AppContext): void {
  const { store, jwt } = ctx;

  router.get("/api/articles/:slug/comments", async (req) => {
    const viewer = await optionalViewer(req, jwt);
    const { id } = await findArticle(store, req.params.slug);
    const rows = await store.query<CommentRow>(
      `${SELECT} WHERE c.article_id = ? ORDER BY c.created_at, c.id`,
      viewer?.id ?? NOBODY,
      id,
    );
    return { comments: rows.map(commentJson) };
  });

  router.post("/api/articles/:slug/comments", async (req) => {
    const viewer = await requireViewer(req, jwt);
    const f = await readFields(req, "comment");
    const body = f.required("body");
    f.done();
    const article = await findArticle(store, req.params.slug);
    const now = new Date().toISOString();
    const id = await store.insert(
      "INSERT INTO comments (article_id, author_id, body, created_at, updated_at) " +
        "VALUES (?, ?, ?, ?, ?)",
      article.id,
      viewer.id,
      body,
      now,
      now,
    );
    const row = await store.queryOne<CommentRow>(`${SELECT} WHERE c.id = ?`, viewer.id, id);
    return { comment: commentJson(row!) };
  });

  router.delete("/api/articles/:slug/comments/:id", async (req) => {
    const viewer = await requireViewer(req, jwt);
    const article = await findArticle(store, req.params.slug);
    const id = /^\d{1,15}$/.test(req.params.id) ? Number(req.params.id) : -1;
    const row = await store.queryOne<{ author_id: number }>(
      "SELECT author_id FROM comments WHERE id = ? AND article_id = ?",
      id,
      article.id,
    );
    if (!row) throw ApiError.notFound("comment");
    if (Number(row.author_id) !== viewer.id) throw ApiError.forbidden("comment");
    await store.exec("DELETE FROM comments WHERE id = ?", id);
    return respond(null, { status: 204 });
  });
}

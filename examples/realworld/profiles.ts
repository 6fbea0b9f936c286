/**
 * Profiles: read one (`GET /api/profiles/:username`), follow and unfollow
 * (`POST` / `DELETE /api/profiles/:username/follow`).
 *
 * @module
 */
import type { Router } from "../../src/http/mod.ts";
import { optionalViewer, requireViewer } from "./auth.ts";
import type { AppContext } from "./context.ts";
import type { Store } from "./database.ts";
import { ApiError } from "./errors.ts";
import { NOBODY } from "./article_queries.ts";
import { type AuthorRow, type Profile, profileJson } from "./views.ts";

/** The user id named `username`, or a 404. */
async function userId(store: Store, username: string): Promise<number> {
  const row = await store.queryOne<{ id: number }>(
    "SELECT id FROM users WHERE username = ?",
    username,
  );
  if (!row) throw ApiError.notFound("profile");
  return Number(row.id);
}

/**
 * The profile of `username` as `viewer` sees it, or a 404.
 *
 * @example
 * ```ts ignore
 * const profile = await profileOf(store, "jake", NOBODY);
 * ```
 */
export async function profileOf(store: Store, username: string, viewer: number): Promise<Profile> {
  const row = await store.queryOne<AuthorRow>(
    "SELECT u.username, u.bio, u.image, EXISTS (SELECT 1 FROM follows f " +
      "WHERE f.followee_id = u.id AND f.follower_id = ?) AS following " +
      "FROM users u WHERE u.username = ?",
    viewer,
    username,
  );
  if (!row) throw ApiError.notFound("profile");
  return profileJson(row);
}

/**
 * Adds the profile routes to `router`.
 *
 * @example
 * ```ts ignore
 * addProfileRoutes(router, ctx);
 * ```
 */
export function addProfileRoutes(router: Router, ctx: AppContext): void {
  const { store, jwt } = ctx;

  router.get("/api/profiles/:username", async (req) => {
    const viewer = await optionalViewer(req, jwt);
    return { profile: await profileOf(store, req.params.username, viewer?.id ?? NOBODY) };
  });

  router.post("/api/profiles/:username/follow", async (req) => {
    const viewer = await requireViewer(req, jwt);
    const id = await userId(store, req.params.username);
    if (id === viewer.id) throw ApiError.invalid("profile", "cannot follow yourself");
    await store.exec(
      "INSERT INTO follows (follower_id, followee_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
      viewer.id,
      id,
    );
    return { profile: await profileOf(store, req.params.username, viewer.id) };
  });

  router.delete("/api/profiles/:username/follow", async (req) => {
    const viewer = await requireViewer(req, jwt);
    const id = await userId(store, req.params.username);
    await store.exec(
      "DELETE FROM follows WHERE follower_id = ? AND followee_id = ?",
      viewer.id,
      id,
    );
    return { profile: await profileOf(store, req.params.username, viewer.id) };
  });
}

/**
 * Tags: `GET /api/tags` lists every tag some article carries, the most
 * used first (ties by name).
 *
 * @module
 */
import type { Router } from "../../src/http/mod.ts";
import type { AppContext } from "./context.ts";

/**
 * Adds the tag route to `router`.
 *
 * @example
 * ```ts ignore
 * addTagRoutes(router, ctx);
 * ```
 */
export function addTagRoutes(router: Router, ctx: AppContext): void {
  router.get("/api/tags", async () => {
    const rows = await ctx.store.query<{ name: string; n: unknown }>(
      "SELECT t.name, COUNT(*) AS n FROM tags t JOIN article_tags at ON at.tag_id = t.id " +
        "GROUP BY t.name",
    );
    const counted = rows.map((r) => ({ name: r.name, n: Number(r.n) }));
    counted.sort((a, b) => b.n - a.n || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { tags: counted.map((r) => r.name) };
  });
}

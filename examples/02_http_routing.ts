/**
 * A small router with `:params`, on 127.0.0.1:18081, with keep-alive
 * connections. Unknown paths get 404 `{"error":"Not found","path":...}`.
 *
 * Run:  deno run -A examples/02_http_routing.ts
 * Ctrl-C (SIGINT) or SIGTERM lets in-flight requests finish, then exits.
 * With `--smoke` (or LUNET_SMOKE=1) it checks itself once and exits.
 */
import { Router, serve } from "../src/http/mod.ts";
import { handleShutdownSignals } from "../src/signal.ts";

const PORT = 18081;
const smoke = Deno.args.includes("--smoke") || Deno.env.get("LUNET_SMOKE") === "1";

const app = new Router()
  .get("/", () => ({ message: "Welcome to Lunet routing example!" }))
  .get("/users", () => ({ users: [{ id: 1, name: "Alice" }, { id: 2, name: "Bob" }] }))
  .get(
    "/users/:id",
    (req) => ({ user: { id: Number(req.params.id), name: `User ${req.params.id}` } }),
  )
  .get("/articles/:slug", (req) => ({
    article: { slug: req.params.slug, title: `Article: ${req.params.slug}` },
  }))
  .get("/articles/:slug/comments/:id", (req) => ({
    comment: { article_slug: req.params.slug, comment_id: req.params.id },
  }));

const server = await serve(app, { port: PORT });
handleShutdownSignals({ timeout: 5000 });

console.log(`Routing example server listening on http://127.0.0.1:${PORT}`);
console.log("Try these URLs:");
for (
  const path of [
    "/",
    "/users",
    "/users/42",
    "/articles/hello-world",
    "/articles/my-post/comments/5",
  ]
) {
  console.log(`  curl http://127.0.0.1:${PORT}${path}`);
}

if (smoke) {
  const base = `http://127.0.0.1:${PORT}`;
  const checks: [string, number, (b: any) => boolean][] = [
    ["/users/42", 200, (b) => b.user.id === 42 && b.user.name === "User 42"],
    ["/articles/my-post/comments/5", 200, (b) => b.comment.article_slug === "my-post"],
    ["/nope", 404, (b) => b.error === "Not found" && b.path === "/nope"],
  ];
  let ok = true;
  for (const [path, status, check] of checks) {
    const res = await fetch(base + path);
    const body = await res.json();
    if (res.status !== status || !check(body)) {
      console.error("smoke check failed:", path, res.status, body);
      ok = false;
    }
  }
  await server.shutdown({ timeout: 1000 });
  if (!ok) Deno.exit(1);
  console.log("smoke check ok");
}

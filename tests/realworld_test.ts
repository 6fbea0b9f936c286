/**
 * The RealWorld "Conduit" example through real HTTP, on SQLite and on
 * PostgreSQL: every endpoint with its JSON shape and status, every error
 * case the spec names (401, 403, 404, 422 with `{"errors": {...}}`),
 * migrations on restart, and a Postman-collection-style flow (register →
 * login → article CRUD → comments → favourites → feed → cleanup), also run
 * by newman. Each test gets a database of its own and drops it.
 */
import assert from "node:assert/strict";
import { startRealWorld } from "../examples/realworld/app.ts";
import { migrate } from "../examples/realworld/migrations.ts";
import { requiredTest, target } from "./db_targets.ts";
import {
  Api,
  assertError,
  postgresDb,
  sqliteDb,
  type TestDb,
  withApp,
} from "./fixtures/realworld/client.ts";
import { profilesAndFollowing, usersAndAuth } from "./fixtures/realworld/account_cases.ts";
import { conduitFlow } from "./fixtures/realworld/flow.ts";
import { runNewman } from "./fixtures/realworld/collection.ts";
import { noLeaks } from "./leak.ts";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const databases: { name: string; why: string | undefined; make(): Promise<TestDb> | TestDb }[] = [
  { name: "sqlite", why: undefined, make: sqliteDb },
  { name: "postgres", why: target("postgres").unreachable, make: postgresDb },
];

for (const db of databases) {
  const test = (name: string, fn: (t: Deno.TestContext) => Promise<void>) =>
    requiredTest(db.name, db.why, `realworld (${db.name}): ${name}`, noLeaks(fn));

  test("users and authentication", async (t) => {
    await withApp(await db.make(), (_app, anon) => usersAndAuth(t, anon));
  });

  test("profiles and following", async (t) => {
    await withApp(await db.make(), (_app, anon) => profilesAndFollowing(t, anon));
  });

  test("articles: create, read, update, delete", async (t) => {
    await withApp(await db.make(), async (_app, anon) => {
      const jake = await anon.register("jake");
      const other = await anon.register("other");
      const dragon = {
        title: "How to train your dragon",
        description: "Ever wonder how?",
        body: "You have to believe",
        tagList: ["training", "dragons", " dragons ", "angularjs"],
      };
      await t.step("create answers 201 with the article", async () => {
        const r = await jake.post("/articles", { article: dragon });
        assert.equal(r.status, 201);
        const a = r.body.article;
        assert.equal(a.slug, "how-to-train-your-dragon");
        assert.equal(a.title, dragon.title);
        assert.equal(a.description, dragon.description);
        assert.equal(a.body, dragon.body);
        assert.deepEqual(a.tagList, ["angularjs", "dragons", "training"]);
        assert.match(a.createdAt, ISO);
        assert.equal(a.updatedAt, a.createdAt);
        assert.equal(a.favorited, false);
        assert.equal(a.favoritesCount, 0);
        assert.deepEqual(a.author, { username: "jake", bio: null, image: null, following: false });
      });
      await t.step("create: the same title gets another slug", async () => {
        const r = await jake.post("/articles", { article: { ...dragon, tagList: undefined } });
        assert.equal(r.status, 201);
        assert.match(r.body.article.slug, /^how-to-train-your-dragon-[0-9a-f]{8}$/);
        assert.deepEqual(r.body.article.tagList, []);
      });
      await t.step("create: errors", async () => {
        assertError(await anon.post("/articles", { article: dragon }), 401, "token");
        const r = await jake.post("/articles", { article: { title: "t" } });
        assertError(r, 422, "description", "can't be blank");
        assertError(r, 422, "body", "can't be blank");
        assertError(
          await jake.post("/articles", { article: { ...dragon, tagList: "dragons" } }),
          422,
          "tagList",
        );
        assertError(await jake.post("/articles", { title: "x" }), 422, "article");
      });
      await t.step("read one article, anonymous or signed in", async () => {
        const r = await anon.get("/articles/how-to-train-your-dragon");
        assert.equal(r.status, 200);
        assert.equal(r.body.article.body, dragon.body);
        assertError(await anon.get("/articles/no-such-article"), 404, "article", "not found");
        assertError(await anon.as("bad").get("/articles/how-to-train-your-dragon"), 401, "token");
      });
      await t.step("update: by the author; a new title makes a new slug", async () => {
        let r = await jake.put("/articles/how-to-train-your-dragon", {
          article: { body: "With two hands" },
        });
        assert.equal(r.status, 200);
        assert.equal(r.body.article.body, "With two hands");
        assert.equal(r.body.article.slug, "how-to-train-your-dragon");
        r = await jake.put("/articles/how-to-train-your-dragon", {
          article: { title: "Did you train your dragon?", tagList: ["x"] },
        });
        assert.equal(r.body.article.slug, "did-you-train-your-dragon");
        assert.equal(r.body.article.description, dragon.description);
        assert.deepEqual(r.body.article.tagList, ["x"]);
        assert.ok(r.body.article.updatedAt >= r.body.article.createdAt);
        assertError(await anon.get("/articles/how-to-train-your-dragon"), 404, "article");
        assert.equal((await anon.get("/articles/did-you-train-your-dragon")).status, 200);
      });
      await t.step("update: errors", async () => {
        const path = "/articles/did-you-train-your-dragon";
        assertError(await anon.put(path, { article: { body: "x" } }), 401, "token");
        assertError(await other.put(path, { article: { body: "x" } }), 403, "article", "forbidden");
        assertError(await jake.put("/articles/nope", { article: { body: "x" } }), 404, "article");
        assertError(await jake.put(path, { article: { title: "" } }), 422, "title");
      });
      await t.step("delete: by the author only, 204 then 404", async () => {
        const path = "/articles/did-you-train-your-dragon";
        await other.post(`${path}/favorite`);
        await other.post(`${path}/comments`, { comment: { body: "nice" } });
        assertError(await anon.delete(path), 401, "token");
        assertError(await other.delete(path), 403, "article", "forbidden");
        const r = await jake.delete(path);
        assert.equal(r.status, 204);
        assert.equal(r.body, null);
        assertError(await jake.delete(path), 404, "article");
        assertError(await anon.get(`${path}/comments`), 404, "article");
        assert.deepEqual((await anon.get("/tags")).body.tags, []);
      });
    });
  });

  test("article lists: filters, pagination, feed, favourites, tags", async (t) => {
    await withApp(await db.make(), async (_app, anon) => {
      const alice = await anon.register("alice");
      const bob = await anon.register("bob");
      const slugs: string[] = [];
      for (let i = 0; i < 5; i++) {
        const author = i % 2 === 0 ? alice : bob;
        const tagList = i < 3 ? ["common", `t${i}`] : ["rare"];
        const r = await author.post("/articles", {
          article: { title: `Post ${i}`, description: `d${i}`, body: `b${i}`, tagList },
        });
        slugs.push(r.body.article.slug);
      }
      await t.step("the list: most recent first, without bodies, with the count", async () => {
        const r = await anon.get("/articles");
        assert.equal(r.status, 200);
        assert.equal(r.body.articlesCount, 5);
        assert.deepEqual(r.body.articles.map((a: any) => a.slug), [...slugs].reverse());
        for (const a of r.body.articles) {
          assert.equal("body" in a, false);
          assert.deepEqual(Object.keys(a).sort(), [
            "author",
            "createdAt",
            "description",
            "favorited",
            "favoritesCount",
            "slug",
            "tagList",
            "title",
            "updatedAt",
          ]);
        }
      });
      await t.step("filters: tag, author, favorited, and together", async () => {
        const count = async (q: string) => (await anon.get(`/articles?${q}`)).body;
        assert.equal((await count("tag=common")).articlesCount, 3);
        assert.equal((await count("tag=rare")).articlesCount, 2);
        assert.equal((await count("tag=none")).articlesCount, 0);
        assert.deepEqual((await count("tag=none")).articles, []);
        assert.equal((await count("author=alice")).articlesCount, 3);
        assert.equal((await count("author=alice&tag=rare")).articlesCount, 1);
        assert.equal((await count("author=nobody")).articlesCount, 0);
        await bob.post(`/articles/${slugs[0]}/favorite`);
        await bob.post(`/articles/${slugs[4]}/favorite`);
        const fav = await count("favorited=bob");
        assert.equal(fav.articlesCount, 2);
        assert.deepEqual(fav.articles.map((a: any) => a.slug), [slugs[4], slugs[0]]);
        assert.equal((await count("favorited=bob&tag=common")).articlesCount, 1);
      });
      await t.step("limit and offset", async () => {
        const r = await anon.get("/articles?limit=2&offset=1");
        assert.equal(r.body.articlesCount, 5);
        assert.deepEqual(r.body.articles.map((a: any) => a.slug), [slugs[3], slugs[2]]);
        assert.equal((await anon.get("/articles?offset=10")).body.articles.length, 0);
        assertError(await anon.get("/articles?limit=0"), 422, "limit");
        assertError(await anon.get("/articles?limit=abc"), 422, "limit");
        assertError(await anon.get("/articles?offset=-1"), 422, "offset");
      });
      await t.step("favourite and unfavourite", async () => {
        const path = `/articles/${slugs[1]}/favorite`;
        let r = await alice.post(path);
        assert.equal(r.status, 200);
        assert.equal(r.body.article.favorited, true);
        assert.equal(r.body.article.favoritesCount, 1);
        r = await bob.post(path);
        assert.equal(r.body.article.favoritesCount, 2);
        assert.equal((await anon.get(`/articles/${slugs[1]}`)).body.article.favorited, false);
        const listed = (await alice.get("/articles?favorited=alice")).body.articles[0];
        assert.equal(listed.favorited, true);
        r = await alice.delete(path);
        assert.equal(r.status, 200);
        assert.equal(r.body.article.favorited, false);
        assert.equal(r.body.article.favoritesCount, 1);
        assertError(await anon.post(path), 401, "token");
        assertError(await alice.post("/articles/nope/favorite"), 404, "article");
        assertError(await alice.delete("/articles/nope/favorite"), 404, "article");
      });
      await t.step("the feed: articles of followed authors, signed in only", async () => {
        assertError(await anon.get("/articles/feed"), 401, "token", "is missing");
        let r = await alice.get("/articles/feed");
        assert.deepEqual(r.body, { articles: [], articlesCount: 0 });
        await alice.post("/profiles/bob/follow");
        r = await alice.get("/articles/feed");
        assert.equal(r.body.articlesCount, 2);
        assert.deepEqual(r.body.articles.map((a: any) => a.slug), [slugs[3], slugs[1]]);
        assert.ok(r.body.articles.every((a: any) => a.author.following === true));
        r = await alice.get("/articles/feed?limit=1&offset=1");
        assert.deepEqual(r.body.articles.map((a: any) => a.slug), [slugs[1]]);
        assert.equal(r.body.articlesCount, 2);
        const all = (await alice.get("/articles?author=bob")).body.articles;
        assert.ok(all.every((a: any) => a.author.following === true));
      });
      await t.step("tags: every tag in use, most used first", async () => {
        const r = await anon.get("/tags");
        assert.equal(r.status, 200);
        assert.deepEqual(r.body.tags, ["common", "rare", "t0", "t1", "t2"]);
      });
    });
  });

  test("comments", async (t) => {
    await withApp(await db.make(), async (_app, anon) => {
      const jake = await anon.register("jake");
      const other = await anon.register("other");
      const slug = (await jake.post("/articles", {
        article: { title: "Commented", description: "d", body: "b" },
      })).body.article.slug;
      const path = `/articles/${slug}/comments`;
      let id = 0;
      await t.step("add a comment", async () => {
        const r = await other.post(path, { comment: { body: "His name was my name too." } });
        assert.equal(r.status, 200);
        const c = r.body.comment;
        assert.equal(typeof c.id, "number");
        assert.equal(c.body, "His name was my name too.");
        assert.match(c.createdAt, ISO);
        assert.match(c.updatedAt, ISO);
        assert.deepEqual(c.author, { username: "other", bio: null, image: null, following: false });
        id = c.id;
        await jake.post(path, { comment: { body: "second" } });
      });
      await t.step("list comments, anonymous or signed in, oldest first", async () => {
        let r = await anon.get(path);
        assert.equal(r.status, 200);
        assert.deepEqual(r.body.comments.map((c: any) => c.body), [
          "His name was my name too.",
          "second",
        ]);
        await jake.post("/profiles/other/follow");
        r = await jake.get(path);
        assert.equal(r.body.comments[0].author.following, true);
        assertError(await anon.get("/articles/nope/comments"), 404, "article", "not found");
      });
      await t.step("errors adding", async () => {
        assertError(await anon.post(path, { comment: { body: "x" } }), 401, "token");
        assertError(
          await jake.post(path, { comment: { body: " " } }),
          422,
          "body",
          "can't be blank",
        );
        assertError(await jake.post(path, { body: "x" }), 422, "comment");
        assertError(
          await jake.post("/articles/nope/comments", { comment: { body: "x" } }),
          404,
          "article",
        );
      });
      await t.step("delete: the comment's author only", async () => {
        assertError(await anon.delete(`${path}/${id}`), 401, "token");
        assertError(await jake.delete(`${path}/${id}`), 403, "comment", "forbidden");
        assertError(await other.delete(`${path}/999999`), 404, "comment", "not found");
        assertError(await other.delete(`${path}/abc`), 404, "comment");
        assertError(await other.delete(`/articles/nope/comments/${id}`), 404, "article");
        const r = await other.delete(`${path}/${id}`);
        assert.equal(r.status, 204);
        assertError(await other.delete(`${path}/${id}`), 404, "comment");
        assert.deepEqual((await anon.get(path)).body.comments.map((c: any) => c.body), ["second"]);
      });
    });
  });

  test("the rest of the API surface: unknown paths, CORS, body limits", async () => {
    await withApp(await db.make(), async (_app, anon) => {
      assertError(await anon.get("/nothing/here"), 404, "path", "not found");
      const pre = await anon.call("OPTIONS", "/articles", undefined, {
        origin: "http://localhost:4200",
        "access-control-request-method": "POST",
      });
      assert.equal(pre.status, 204);
      assert.match(pre.headers.get("access-control-allow-headers") ?? "", /authorization/);
      const r = await anon.get("/tags");
      assert.equal(r.headers.get("access-control-allow-origin"), "*");
      const big = "x".repeat(2 << 20);
      const tooBig = await anon.post("/users", { user: { username: big } });
      // Refused by the engine from Content-Length, before the route runs.
      assert.equal(tooBig.status, 413);
    });
  });

  test("a restart keeps data and tokens; migrations run once", async () => {
    const dbh = await db.make();
    try {
      let app = await startRealWorld({ database: dbh.target, port: 0 });
      let token: string;
      try {
        token = (await new Api(app.api).register("keeper")).token!;
      } finally {
        await app.close();
      }
      app = await startRealWorld({ database: dbh.target, port: 0 });
      try {
        assert.deepEqual(await migrate(app.store), []);
        const r = await new Api(app.api, token).get("/user");
        assert.equal(r.status, 200);
        assert.equal(r.body.user.username, "keeper");
      } finally {
        await app.close();
      }
    } finally {
      await dbh.drop();
    }
  });

  test("the Postman-style flow", async () => {
    await withApp(await db.make(), async (_app, anon) => {
      await conduitFlow(anon);
    });
  });

  test("the Postman-style collection under newman", async () => {
    await withApp(await db.make(), async (app) => {
      const { passed, failed, output } = await runNewman(app.api);
      assert.equal(failed, 0, output);
      assert.ok(passed > 50, output);
    });
  });
}

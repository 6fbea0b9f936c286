/**
 * The RealWorld "Conduit" API (`deno task realworld`): every endpoint of
 * the spec under `/api` on 127.0.0.1:3000, on lunet/http's router, with
 * SQLite in `realworld.db` by default or PostgreSQL with
 * `REALWORLD_DB=postgres://…`. Migrations run at start.
 *
 * Environment: `REALWORLD_DB` (a `postgres://` URL or a SQLite path;
 * default `realworld.db`), `REALWORLD_PORT` (default 3000),
 * `REALWORLD_HOST` (default 127.0.0.1; a public address also needs
 * `LUNET_ALLOW_PUBLIC=1`), `REALWORLD_JWT_SECRET` (default: a key made
 * once and kept in the database). SIGINT or SIGTERM shuts it down
 * gracefully. With `--smoke` it serves a temporary SQLite file on a free
 * port, walks register → article → comment → favourite → delete once over
 * HTTP, and exits.
 *
 * @example
 * ```sh
 * deno task realworld
 * curl http://127.0.0.1:3000/api/articles
 * REALWORLD_DB=postgres://postgres@127.0.0.1:5432/conduit deno task realworld
 * ```
 * @module
 */
import * as signal from "../../src/signal.ts";
import { startRealWorld } from "./app.ts";

const smoke = Deno.args.includes("--smoke");
const env = (name: string) => Deno.env.get(name) || undefined;
const tmp = smoke ? Deno.makeTempFileSync({ suffix: ".db" }) : undefined;
const database = tmp ?? env("REALWORLD_DB") ?? "realworld.db";

const app = await startRealWorld({
  database,
  host: env("REALWORLD_HOST"),
  port: smoke ? 0 : Number(env("REALWORLD_PORT") ?? 3000),
  jwtSecret: env("REALWORLD_JWT_SECRET"),
});
const where = /^postgres/.test(database) ? database.replace(/\/\/[^@/]*@/, "//") : database;
console.log(`Conduit API on ${app.api} (${app.store.dialect}: ${where})`);

if (smoke) {
  let ok = false;
  try {
    ok = await selfCheck(app.api);
  } finally {
    await app.close();
    // SQLite removes its -wal and -shm files itself when it closes cleanly.
    for (const suffix of ["", "-wal", "-shm"]) removeIfPresent(tmp + suffix);
  }
  console.log(ok ? "smoke check ok" : "smoke check FAILED");
  Deno.exit(ok ? 0 : 1);
}

console.log(`stopping on SIG${await signal.wait(["INT", "TERM"])}`);
await app.close();

/** One pass over the main endpoints; true when every answer is as the spec says. */
async function selfCheck(api: string): Promise<boolean> {
  let token = "";
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(api + path, {
      method,
      headers: {
        "content-type": "application/json",
        ...(token ? { authorization: `Token ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };
  const user = { username: "smoke", email: "smoke@example.com", password: "smokesmoke" };
  const reg = await call("POST", "/users", { user });
  token = reg.json?.user?.token ?? "";
  const made = await call("POST", "/articles", {
    article: { title: "Smoke test", description: "d", body: "b", tagList: ["z", "a"] },
  });
  const slug = made.json?.article?.slug;
  const checks: [string, boolean][] = [
    ["register 201", reg.status === 201 && token !== ""],
    ["create 201", made.status === 201 && slug === "smoke-test"],
    ["tags sorted", made.json?.article?.tagList?.join() === "a,z"],
    [
      "comment",
      (await call("POST", `/articles/${slug}/comments`, { comment: { body: "hi" } }))
        .json?.comment?.body === "hi",
    ],
    [
      "favorite",
      (await call("POST", `/articles/${slug}/favorite`)).json?.article
        ?.favoritesCount === 1,
    ],
    ["list", (await call("GET", "/articles")).json?.articlesCount === 1],
    [
      "no token 401",
      await (async () => {
        const saved = token;
        token = "";
        const r = await call("GET", "/user");
        token = saved;
        return r.status === 401 && r.json?.errors?.token?.[0] === "is missing";
      })(),
    ],
    ["delete 204", (await call("DELETE", `/articles/${slug}`)).status === 204],
    ["gone 404", (await call("GET", `/articles/${slug}`)).status === 404],
  ];
  for (const [name, passed] of checks) console.log(`${passed ? "ok  " : "FAIL"} ${name}`);
  return checks.every(([, passed]) => passed);
}

function removeIfPresent(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

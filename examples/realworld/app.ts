/**
 * The Conduit app: opens the database (SQLite file or PostgreSQL URL),
 * applies the migrations, loads or creates the token signing key, and
 * serves every RealWorld route under `/api` on a lunet/http router with
 * CORS and the spec's error shape as middleware.
 *
 * @module
 */
import { Router, serve, type Server } from "../../src/http/mod.ts";
import { addArticleRoutes } from "./articles.ts";
import { addCommentRoutes } from "./comments.ts";
import type { AppContext } from "./context.ts";
import { cors } from "./cors.ts";
import { openStore, type Store } from "./database.ts";
import { ApiError, errorsMiddleware } from "./errors.ts";
import { Jwt } from "./jwt.ts";
import { migrate } from "./migrations.ts";
import { addProfileRoutes } from "./profiles.ts";
import { addTagRoutes } from "./tags.ts";
import { addUserRoutes } from "./users.ts";

/** Options of {@linkcode startRealWorld}. */
export interface RealWorldOptions {
  /** A `postgres://` URL, or a SQLite file path (default `realworld.db`). */
  database?: string;
  /** Host to bind (default `127.0.0.1`). */
  host?: string;
  /** Port (default 3000; 0 picks a free one). */
  port?: number;
  /** Token signing secret (default: one generated once and kept in the database). */
  jwtSecret?: string;
  /** Largest request body, bytes (default 1 MiB). */
  maxBodyBytes?: number;
}

/** A running app. */
export interface RealWorld {
  /** The base URL of the API, e.g. `http://127.0.0.1:3000/api`. */
  readonly api: string;
  /** The HTTP server. */
  readonly server: Server;
  /** The database. */
  readonly store: Store;
  /** Shuts the server down, then closes the database. */
  close(): Promise<void>;
}

/**
 * The router of every route, for a given context.
 *
 * @example
 * ```ts ignore
 * const router = createRouter({ store, jwt });
 * ```
 */
export function createRouter(ctx: AppContext): Router {
  const router = new Router().use(cors).use(errorsMiddleware);
  addUserRoutes(router, ctx);
  addProfileRoutes(router, ctx);
  addArticleRoutes(router, ctx);
  addCommentRoutes(router, ctx);
  addTagRoutes(router, ctx);
  // Last: parameter routes match in the order added.
  router.all("/api/*", () => {
    throw ApiError.notFound("path");
  });
  return router;
}

/** The secret kept in `settings`, created on first start. */
async function storedSecret(store: Store): Promise<string> {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const fresh = btoa(String.fromCharCode(...bytes));
  await store.exec(
    "INSERT INTO settings (key, value) VALUES ('jwt_secret', ?) ON CONFLICT (key) DO NOTHING",
    fresh,
  );
  const row = await store.queryOne<{ value: string }>(
    "SELECT value FROM settings WHERE key = 'jwt_secret'",
  );
  return row!.value;
}

/**
 * Opens the database, migrates it and starts serving.
 *
 * @example
 * ```ts
 * import { startRealWorld } from "./app.ts";
 * const app = await startRealWorld({ database: ":memory:", port: 0 });
 * const res = await fetch(`${app.api}/tags`);
 * const body = await res.json();
 * if (!Array.isArray(body.tags)) throw new Error("tags");
 * await app.close();
 * ```
 */
export async function startRealWorld(opts: RealWorldOptions = {}): Promise<RealWorld> {
  const store = await openStore(opts.database ?? "realworld.db");
  try {
    await migrate(store);
    const jwt = await Jwt.create(opts.jwtSecret ?? await storedSecret(store));
    const host = opts.host ?? "127.0.0.1";
    const server = await serve(createRouter({ store, jwt }), {
      host,
      port: opts.port ?? 3000,
      maxBodyBytes: opts.maxBodyBytes ?? 1 << 20,
    });
    return {
      api: `http://${host}:${server.addr.port}/api`,
      server,
      store,
      async close() {
        await server.shutdown({ timeout: 5000 });
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

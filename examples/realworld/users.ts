/**
 * Users and authentication: register (`POST /api/users`), log in
 * (`POST /api/users/login`), the current user (`GET /api/user`) and its
 * update (`PUT /api/user`).
 *
 * @module
 */
import { json, type Router } from "../../src/http/mod.ts";
import { requireViewer } from "./auth.ts";
import type { AppContext } from "./context.ts";
import { isUniqueViolation, type Store } from "./database.ts";
import { ApiError } from "./errors.ts";
import { type Fields, readFields } from "./input.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import { userJson, type UserRow } from "./views.ts";

const USER = "SELECT id, username, email, bio, image FROM users";

// Verified against when no user has the e-mail, so both answers take as long.
const DUMMY_HASH = hashPassword("no such user");

/** Records "has already been taken" for a username or e-mail used by someone else. */
async function checkTaken(
  store: Store,
  f: Fields,
  username: string | undefined,
  email: string | undefined,
  self: number,
): Promise<void> {
  if (!username && !email) return;
  const rows = await store.query<{ username: string; email: string }>(
    "SELECT username, email FROM users WHERE (username = ? OR email = ?) AND id <> ?",
    username ?? null,
    email ?? null,
    self,
  );
  if (username && rows.some((r) => r.username === username)) {
    f.problem("username", "has already been taken");
  }
  if (email && rows.some((r) => r.email === email)) f.problem("email", "has already been taken");
}

function taken(err: unknown): never {
  if (isUniqueViolation(err)) {
    throw new ApiError(422, {
      [/email/.test(String(err)) ? "email" : "username"]: [
        "has already been taken",
      ],
    });
  }
  throw err;
}

/**
 * Adds the user routes to `router`.
 *
 * @example
 * ```ts ignore
 * addUserRoutes(router, ctx);
 * ```
 */
export function addUserRoutes(router: Router, ctx: AppContext): void {
  const { store, jwt } = ctx;
  const token = (row: UserRow) => jwt.sign({ sub: String(row.id), username: row.username });

  router.post("/api/users", async (req) => {
    const f = await readFields(req, "user");
    const username = f.required("username");
    const email = f.email("email");
    const password = f.password("password");
    f.done();
    await checkTaken(store, f, username, email, 0);
    f.done();
    const now = new Date().toISOString();
    const hash = await hashPassword(password);
    const id = await store.insert(
      "INSERT INTO users (username, email, password_hash, bio, image, created_at, updated_at) " +
        "VALUES (?, ?, ?, NULL, NULL, ?, ?)",
      username,
      email,
      hash,
      now,
      now,
    ).catch(taken);
    const row: UserRow = { id, username, email: email!, bio: null, image: null };
    return json({ user: userJson(row, await token(row)) }, { status: 201 });
  });

  router.post("/api/users/login", async (req) => {
    const f = await readFields(req, "user");
    const email = f.email("email");
    const password = f.password("password");
    f.done();
    const row = await store.queryOne<UserRow & { password_hash: string }>(
      "SELECT id, username, email, bio, image, password_hash FROM users WHERE email = ?",
      email,
    );
    const ok = await verifyPassword(password, row?.password_hash ?? await DUMMY_HASH);
    if (!row || !ok) throw new ApiError(401, { credentials: ["invalid"] });
    return { user: userJson(row, await token(row)) };
  });

  router.get("/api/user", async (req) => {
    const viewer = await requireViewer(req, jwt);
    const row = await store.queryOne<UserRow>(`${USER} WHERE id = ?`, viewer.id);
    if (!row) throw ApiError.unauthorized("is invalid");
    return { user: userJson(row, viewer.token) };
  });

  router.put("/api/user", async (req) => {
    const viewer = await requireViewer(req, jwt);
    const f = await readFields(req, "user");
    const username = f.optional("username");
    const email = f.email("email", true);
    const password = f.has("password") ? f.password("password") : undefined;
    const bio = f.nullable("bio");
    const image = f.nullable("image");
    f.done();
    await checkTaken(store, f, username, email, viewer.id);
    f.done();
    const sets: string[] = [];
    const params: unknown[] = [];
    const set = (column: string, value: unknown) => {
      sets.push(`${column} = ?`);
      params.push(value);
    };
    if (username !== undefined) set("username", username);
    if (email !== undefined) set("email", email);
    if (password !== undefined) set("password_hash", await hashPassword(password));
    if (bio !== undefined) set("bio", bio);
    if (image !== undefined) set("image", image);
    if (sets.length > 0) {
      set("updated_at", new Date().toISOString());
      await store.exec(`UPDATE users SET ${sets.join(", ")} WHERE id = ?`, ...params, viewer.id)
        .catch(taken);
    }
    const row = await store.queryOne<UserRow>(`${USER} WHERE id = ?`, viewer.id);
    if (!row) throw ApiError.unauthorized("is invalid");
    return { user: userJson(row, username === undefined ? viewer.token : await token(row)) };
  });
}

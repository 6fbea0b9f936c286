/**
 * The JSON objects of the spec, built from database rows: user, profile,
 * article (with or without its body) and comment. Booleans and counts are
 * normalised (SQLite answers 0/1, PostgreSQL booleans and bigints) and
 * times are ISO 8601 with milliseconds in UTC.
 *
 * @module
 */

/** A user row. */
export interface UserRow {
  id: number;
  username: string;
  email: string;
  bio: string | null;
  image: string | null;
}

/** The author columns of a row, and whether the viewer follows them. */
export interface AuthorRow {
  username: string;
  bio: string | null;
  image: string | null;
  following: unknown;
}

/** An article row as the article queries select it. */
export interface ArticleRow extends AuthorRow {
  id: number;
  slug: string;
  title: string;
  description: string;
  /** Selected for single articles only. */
  body?: string;
  created_at: unknown;
  updated_at: unknown;
  favorites_count: unknown;
  favorited: unknown;
}

/** A comment row with its author. */
export interface CommentRow extends AuthorRow {
  id: number;
  body: string;
  created_at: unknown;
  updated_at: unknown;
}

/** The spec's Profile object. */
export interface Profile {
  username: string;
  bio: string | null;
  image: string | null;
  following: boolean;
}

/** The spec's Article object (`body` left out of lists). */
export interface Article {
  slug: string;
  title: string;
  description: string;
  body?: string;
  tagList: string[];
  createdAt: string;
  updatedAt: string;
  favorited: boolean;
  favoritesCount: number;
  author: Profile;
}

/**
 * A stored time as ISO 8601 (`2016-02-18T03:22:56.637Z`).
 *
 * @example
 * ```ts
 * import { iso } from "./views.ts";
 * if (iso(new Date(0)) !== "1970-01-01T00:00:00.000Z") throw new Error("iso");
 * ```
 */
export function iso(value: unknown): string {
  return (value instanceof Date ? value : new Date(String(value))).toISOString();
}

/**
 * A database boolean (`1`, `true`, `"1"`, `"t"`) as a boolean.
 *
 * @example
 * ```ts
 * import { truthy } from "./views.ts";
 * if (!truthy(1) || truthy(0) || !truthy(true) || truthy(null)) throw new Error("truthy");
 * ```
 */
export function truthy(value: unknown): boolean {
  return value === true || value === 1 || value === 1n || value === "1" || value === "t";
}

/**
 * The spec's User object.
 *
 * @example
 * ```ts
 * import { userJson } from "./views.ts";
 * const u = userJson({ id: 1, username: "jake", email: "j@x.io", bio: null, image: null }, "t");
 * if (u.token !== "t" || u.bio !== null) throw new Error("user");
 * ```
 */
export function userJson(row: UserRow, token: string): {
  email: string;
  token: string;
  username: string;
  bio: string | null;
  image: string | null;
} {
  return { email: row.email, token, username: row.username, bio: row.bio, image: row.image };
}

/**
 * The spec's Profile object.
 *
 * @example
 * ```ts
 * import { profileJson } from "./views.ts";
 * const p = profileJson({ username: "jake", bio: null, image: null, following: 0 });
 * if (p.following !== false) throw new Error("profile");
 * ```
 */
export function profileJson(row: AuthorRow): Profile {
  return {
    username: row.username,
    bio: row.bio ?? null,
    image: row.image ?? null,
    following: truthy(row.following),
  };
}

/**
 * The spec's Article object; `withBody` false leaves `body` out (lists).
 *
 * @example
 * ```ts ignore
 * const article = articleJson(row, ["dragons"], true);
 * ```
 */
export function articleJson(row: ArticleRow, tags: string[], withBody: boolean): Article {
  const createdAt = iso(row.created_at);
  const updatedAt = iso(row.updated_at);
  const favorited = truthy(row.favorited);
  const favoritesCount = Number(row.favorites_count);
  const author = profileJson(row);
  const { slug, title, description } = row;
  return withBody
    ? {
      slug,
      title,
      description,
      body: row.body ?? "",
      tagList: tags,
      createdAt,
      updatedAt,
      favorited,
      favoritesCount,
      author,
    }
    : {
      slug,
      title,
      description,
      tagList: tags,
      createdAt,
      updatedAt,
      favorited,
      favoritesCount,
      author,
    };
}

/**
 * The spec's Comment object.
 *
 * @example
 * ```ts ignore
 * const comment = commentJson(row);
 * ```
 */
export function commentJson(row: CommentRow): {
  id: number;
  createdAt: string;
  updatedAt: string;
  body: string;
  author: Profile;
} {
  return {
    id: Number(row.id),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    body: row.body,
    author: profileJson(row),
  };
}

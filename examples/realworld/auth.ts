/**
 * Who is asking: reads `Authorization: Token <jwt>` (the spec's scheme;
 * `Bearer` is accepted too) and verifies the token. A route that needs a
 * user gets 401 `{"errors":{"token":["is missing"]}}` without one; a
 * token that does not verify is 401 `is invalid` wherever it is sent.
 *
 * @module
 */
import type { HttpRequest } from "../../src/http/mod.ts";
import { ApiError } from "./errors.ts";
import type { Jwt } from "./jwt.ts";

/** The user a verified token names. */
export interface Viewer {
  /** The user id. */
  id: number;
  /** The token itself, sent back in user responses. */
  token: string;
}

const SCHEME = /^(?:Token|Bearer)[ \t]+(\S+)[ \t]*$/i;

/**
 * The viewer of `req`, or `null` when it carries no token.
 *
 * @throws {ApiError} 401 when a token is present but malformed, forged or expired
 *
 * @example
 * ```ts ignore
 * const viewer = await optionalViewer(req, jwt); // null for anonymous requests
 * ```
 */
export async function optionalViewer(req: HttpRequest, jwt: Jwt): Promise<Viewer | null> {
  const header = req.headers.get("authorization");
  if (header === null || header.trim() === "") return null;
  const m = SCHEME.exec(header);
  if (!m) throw ApiError.unauthorized("is invalid");
  const claims = await jwt.verify(m[1]);
  const id = Number(claims?.sub);
  if (!claims || !Number.isSafeInteger(id) || id <= 0) throw ApiError.unauthorized("is invalid");
  return { id, token: m[1] };
}

/**
 * The viewer of `req`.
 *
 * @throws {ApiError} 401 when there is no token or it does not verify
 *
 * @example
 * ```ts ignore
 * const viewer = await requireViewer(req, jwt);
 * ```
 */
export async function requireViewer(req: HttpRequest, jwt: Jwt): Promise<Viewer> {
  const viewer = await optionalViewer(req, jwt);
  if (!viewer) throw ApiError.unauthorized();
  return viewer;
}

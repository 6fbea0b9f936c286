/**
 * The API's errors: {@linkcode ApiError} carries a status and the
 * `{"errors": {"field": ["message"]}}` body of the RealWorld spec, and
 * {@linkcode errorsMiddleware} turns whatever a route throws into that
 * shape (422 for validation, 401, 403, 404; 500 for the unexpected).
 *
 * @module
 */
import { Cancelled } from "../../mod.ts";
import { HttpError, json, type Middleware } from "../../src/http/mod.ts";

/** Field name → messages, as sent under `errors`. */
export type ErrorFields = Record<string, string[]>;

/**
 * An error answered as `{"errors": fields}` with `status`.
 *
 * @example
 * ```ts
 * import { ApiError } from "./errors.ts";
 * const err = ApiError.notFound("article");
 * if (err.status !== 404 || err.fields.article[0] !== "not found") throw new Error("shape");
 * ```
 */
export class ApiError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** The body under `errors`. */
  readonly fields: ErrorFields;

  /**
   * @param status the HTTP status
   * @param fields field name → messages
   */
  constructor(status: number, fields: ErrorFields) {
    super(Object.entries(fields).map(([k, v]) => `${k} ${v.join(", ")}`).join("; "));
    this.name = "ApiError";
    this.status = status;
    this.fields = fields;
  }

  /** 422 with one message for `field`. */
  static invalid(field: string, message: string): ApiError {
    return new ApiError(422, { [field]: [message] });
  }

  /** 401: no token, or one that does not verify. */
  static unauthorized(message = "is missing"): ApiError {
    return new ApiError(401, { token: [message] });
  }

  /** 403: `what` belongs to someone else. */
  static forbidden(what: string): ApiError {
    return new ApiError(403, { [what]: ["forbidden"] });
  }

  /** 404: no such `what`. */
  static notFound(what: string): ApiError {
    return new ApiError(404, { [what]: ["not found"] });
  }
}

/**
 * Collects validation messages per field and throws them together as one
 * 422.
 *
 * @example
 * ```ts
 * import { ApiError, Problems } from "./errors.ts";
 * const p = new Problems();
 * p.add("email", "can't be blank");
 * try {
 *   p.throwIfAny();
 * } catch (err) {
 *   if (!(err instanceof ApiError) || err.status !== 422) throw err;
 * }
 * ```
 */
export class Problems {
  #fields: ErrorFields = {};

  /** Records `message` for `field`. */
  add(field: string, message: string): void {
    (this.#fields[field] ??= []).push(message);
  }

  /** True when nothing was recorded. */
  get empty(): boolean {
    return Object.keys(this.#fields).length === 0;
  }

  /** Throws a 422 {@linkcode ApiError} when anything was recorded. */
  throwIfAny(): void {
    if (!this.empty) throw new ApiError(422, this.#fields);
  }
}

/**
 * Answers every error in the spec's shape: an {@linkcode ApiError} as it
 * says, malformed JSON as 422 on `body`, other `HttpError`s (a body over
 * the size limit, a bad path) with their status, anything else as 500
 * (logged on stderr).
 *
 * @example
 * ```ts
 * import { Router } from "../../src/http/mod.ts";
 * import { ApiError, errorsMiddleware } from "./errors.ts";
 * const app = new Router().use(errorsMiddleware).get("/x", () => {
 *   throw ApiError.notFound("x");
 * });
 * ```
 */
export const errorsMiddleware: Middleware = async (req, next) => {
  try {
    return await next();
  } catch (err) {
    if (err instanceof Cancelled) throw err; // the client went away
    if (err instanceof ApiError) return json({ errors: err.fields }, { status: err.status });
    if (err instanceof HttpError) {
      if (err.status === 400 && /JSON/.test(err.message)) {
        return json({ errors: { body: ["is not valid JSON"] } }, { status: 422 });
      }
      return json({ errors: { request: [err.message] } }, { status: err.status });
    }
    console.error(`realworld: ${req.method} ${req.path} failed:`, err);
    return json({ errors: { server: ["internal error"] } }, { status: 500 });
  }
};

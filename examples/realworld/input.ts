/**
 * Reading request bodies: the JSON object under the spec's wrapper key
 * (`{"user": {...}}`, `{"article": {...}}`, `{"comment": {...}}`) and its
 * fields, with the spec's 422 messages (`can't be blank`, `is invalid`,
 * `must be a string`, …) collected per field; and the `limit` / `offset`
 * query parameters.
 *
 * @module
 */
import type { HttpRequest } from "../../src/http/mod.ts";
import { ApiError, Problems } from "./errors.ts";

/**
 * The fields of one wrapped request object, read with checks that record
 * their problems; {@linkcode Fields.done} throws them as one 422.
 *
 * @example
 * ```ts
 * import { ApiError } from "./errors.ts";
 * import { Fields } from "./input.ts";
 * const f = new Fields({ title: "Hi", body: "" });
 * f.required("title");
 * f.required("body");
 * try {
 *   f.done();
 *   throw new Error("expected a 422");
 * } catch (err) {
 *   if (!(err instanceof ApiError) || err.fields.body[0] !== "can't be blank") throw err;
 * }
 * ```
 */
export class Fields {
  #obj: Record<string, unknown>;
  #problems = new Problems();

  /** @param obj the object under the wrapper key */
  constructor(obj: Record<string, unknown>) {
    this.#obj = obj;
  }

  /** True when `name` was sent (even as `null`). */
  has(name: string): boolean {
    return Object.hasOwn(this.#obj, name);
  }

  /** A required non-blank string, trimmed (`""` when missing or wrong). */
  required(name: string): string {
    const v = this.#obj[name];
    if (v === undefined || v === null || (typeof v === "string" && v.trim() === "")) {
      this.#problems.add(name, "can't be blank");
      return "";
    }
    if (typeof v !== "string") {
      this.#problems.add(name, "must be a string");
      return "";
    }
    return v.trim();
  }

  /** A password: a required non-empty string, kept as sent (not trimmed). */
  password(name: string): string {
    const v = this.#obj[name];
    if (typeof v === "string" && v !== "") return v;
    this.#problems.add(
      name,
      v === undefined || v === null || v === "" ? "can't be blank" : "must be a string",
    );
    return "";
  }

  /** A non-blank string when sent, else `undefined`. */
  optional(name: string): string | undefined {
    return this.has(name) ? this.required(name) : undefined;
  }

  /** A string that may be empty or `null` (stored as `null`) when sent, else `undefined`. */
  nullable(name: string): string | null | undefined {
    if (!this.has(name)) return undefined;
    const v = this.#obj[name];
    if (v === null) return null;
    if (typeof v !== "string") {
      this.#problems.add(name, "must be a string");
      return undefined;
    }
    return v.trim() === "" ? null : v;
  }

  /** An e-mail address (required or, with `optional`, when sent), lower-cased. */
  email(name: string, optional = false): string | undefined {
    const v = optional ? this.optional(name) : this.required(name);
    if (v && !/^[^\s@]+@[^\s@]+$/.test(v)) this.#problems.add(name, "is invalid");
    return v?.toLowerCase();
  }

  /** A list of tags when sent: non-blank strings, trimmed, deduplicated, sorted. */
  tags(name: string): string[] | undefined {
    if (!this.has(name) || this.#obj[name] === null) return undefined;
    const v = this.#obj[name];
    if (!Array.isArray(v) || !v.every((t) => typeof t === "string")) {
      this.#problems.add(name, "must be an array of strings");
      return undefined;
    }
    const tags = [...new Set(v.map((t: string) => t.trim()).filter((t) => t !== ""))];
    return tags.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Records a problem for `name`. */
  problem(name: string, message: string): void {
    this.#problems.add(name, message);
  }

  /** Throws every recorded problem as one 422. */
  done(): void {
    this.#problems.throwIfAny();
  }
}

/**
 * Reads `req`'s JSON body and returns the fields under `key`.
 *
 * @throws {ApiError} 422 when the body is not JSON or `key` is not an object
 *
 * @example
 * ```ts ignore
 * const f = await readFields(req, "user");
 * const email = f.email("email");
 * f.done();
 * ```
 */
export async function readFields(req: HttpRequest, key: string): Promise<Fields> {
  const body = await req.json<unknown>();
  const inner = isObject(body) ? body[key] : undefined;
  if (!isObject(inner)) throw ApiError.invalid(key, "can't be blank");
  return new Fields(inner);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** A page of a list: `limit` (default 20) and `offset` (default 0). */
export interface Page {
  /** Most items returned. */
  limit: number;
  /** Items skipped. */
  offset: number;
}

/** Largest `limit` served. */
export const MAX_LIMIT = 100;

/**
 * The page asked for by `limit` and `offset` in `query`.
 *
 * @throws {ApiError} 422 when either is not a whole number in range
 *
 * @example
 * ```ts
 * import { pageOf } from "./input.ts";
 * const page = pageOf(new URLSearchParams("limit=5&offset=10"));
 * if (page.limit !== 5 || page.offset !== 10) throw new Error("page");
 * ```
 */
export function pageOf(query: URLSearchParams): Page {
  const problems = new Problems();
  const read = (name: string, fallback: number, min: number): number => {
    const raw = query.get(name);
    if (raw === null || raw === "") return fallback;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min) {
      problems.add(name, `must be a whole number of at least ${min}`);
      return fallback;
    }
    return Math.min(n, name === "limit" ? MAX_LIMIT : Number.MAX_SAFE_INTEGER);
  };
  const page = { limit: read("limit", 20, 1), offset: read("offset", 0, 0) };
  problems.throwIfAny();
  return page;
}

/**
 * Slugs for article URLs: the title lower-cased, letters and digits of any
 * script kept, everything else collapsed to single dashes.
 *
 * @module
 */

/**
 * The slug of `title` (`"article"` when nothing is left of it).
 *
 * @example
 * ```ts
 * import { slugify } from "./slug.ts";
 * if (slugify("How to train your dragon?!") !== "how-to-train-your-dragon") throw new Error("slug");
 * if (slugify("¿Qué tal, señor?") !== "qué-tal-señor") throw new Error("unicode");
 * ```
 */
export function slugify(title: string): string {
  const slug = title.normalize("NFC").toLowerCase()
    .replace(/['’]/g, "")
    .replace(/[^\p{L}\p{N}]+/gu, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 80)
    .replace(/-+$/, "");
  return slug || "article";
}

/**
 * `base` with a short random suffix, for a title whose slug is taken.
 *
 * @example
 * ```ts
 * import { withSuffix } from "./slug.ts";
 * if (!/^dragons-[0-9a-f]{8}$/.test(withSuffix("dragons"))) throw new Error("suffix");
 * ```
 */
export function withSuffix(base: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `${base}-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * Safe resolution of a request path under a served root: percent-decoded
 * once, refused with 400 when it holds a NUL, a backslash, a `..` or `.`
 * segment or a malformed escape; dotfiles hidden (404) unless allowed;
 * and, once the file system is asked, a real path (symlinks followed)
 * that must stay under the root's real path unless escapes are allowed.
 *
 * @module
 */

/** What a request path resolves to: a file system path, or the status to refuse it with. */
export type Resolved = { path: string; segments: string[] } | { status: 400 | 403 | 404 };

/**
 * The file `urlPath` (a request path, still percent-encoded, without its
 * query) names under `root`, checked lexically. `prefix` is stripped
 * first (a path outside it is 404).
 */
export function resolvePath(
  root: string,
  urlPath: string,
  prefix: string,
  dotfiles: boolean,
): Resolved {
  if (prefix !== "" && prefix !== "/") {
    if (urlPath !== prefix && !urlPath.startsWith(prefix.endsWith("/") ? prefix : prefix + "/")) {
      return { status: 404 };
    }
    urlPath = urlPath.slice(prefix.endsWith("/") ? prefix.length - 1 : prefix.length) || "/";
  }
  if (urlPath.includes("\\") || urlPath.includes("\0")) return { status: 400 };
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return { status: 400 };
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return { status: 400 };
  const segments: string[] = [];
  for (const seg of decoded.split("/")) {
    if (seg === "") continue;
    if (seg === "." || seg === "..") return { status: 400 };
    if (seg.startsWith(".") && !dotfiles) return { status: 404 };
    segments.push(seg);
  }
  const base = root.endsWith("/") ? root.slice(0, -1) : root;
  return { path: segments.length === 0 ? base : `${base}/${segments.join("/")}`, segments };
}

/** True when the real path `real` lies under the real root `root`. */
export function inside(root: string, real: string): boolean {
  return real === root || real.startsWith(root.endsWith("/") ? root : root + "/");
}

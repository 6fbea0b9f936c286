/**
 * Static files: {@linkcode serveDir} serves a directory tree,
 * {@linkcode serveFile} one file. Paths are resolved safely (no `..`, NUL
 * or backslash, no symlink out of the root unless allowed, no dotfiles
 * unless allowed), `index.html` answers for a directory, and listings are
 * off unless asked for. Responses carry the media type (from `mime-db`,
 * loaded on the first file served), `ETag` and `Last-Modified`, answer
 * `If-None-Match` / `If-Modified-Since` with 304 and `If-Match` /
 * `If-Unmodified-Since` with 412, serve `Range` (with `If-Range`) as 206
 * with one range or `multipart/byteranges` for several, 416 when none can
 * be satisfied, and send a precompressed `.br` or `.gz` sibling when the
 * client accepts it. The body goes out with `sendfile(2)` on the `ffi`
 * backend and in large reads on the `deno` backend.
 *
 * @module
 */
import { fromDenoError } from "../errors.ts";
import { compressibleType } from "./_compress.ts";
import { type Encoding, negotiate } from "./_encoding.ts";
import { FileBody, type Segment } from "./_file_body.ts";
import { mediaType } from "./_mime.ts";
import { type ByteRange, closingDelimiter, contentRange, parseRange, partHead } from "./_ranges.ts";
import { inside, resolvePath } from "./_static_path.ts";
import type { HttpRequest } from "./request.ts";
import { HttpResponse, redirect } from "./response.ts";

/**
 * Options of {@linkcode serveFile}.
 *
 * @example
 * ```ts
 * import type { ServeFileOptions } from "@lunet/lunet/http";
 * const opts: ServeFileOptions = { cacheControl: "public, max-age=3600" };
 * ```
 */
export interface ServeFileOptions {
  /** A `Cache-Control` value for every file response. */
  cacheControl?: string;
  /**
   * Send `name.br` or `name.gz` instead of `name` when the client accepts
   * that coding and the sibling exists (not for range requests).
   *
   * @default {true}
   */
  precompressed?: boolean;
  /** The media type to send instead of the one the extension gives. */
  contentType?: string;
}

/**
 * Options of {@linkcode serveDir}.
 *
 * @example
 * ```ts
 * import type { ServeDirOptions } from "@lunet/lunet/http";
 * const opts: ServeDirOptions = { urlRoot: "/static", listing: true };
 * ```
 */
export interface ServeDirOptions extends ServeFileOptions {
  /** The URL path the directory is served under (stripped before lookup). @default {"/"} */
  urlRoot?: string;
  /** The file that answers for a directory, or `false` for none. @default {"index.html"} */
  index?: string | false;
  /** Serve names starting with a dot (else 404). @default {false} */
  dotfiles?: boolean;
  /** Follow symlinks that lead out of the root (else 404). @default {false} */
  allowSymlinkEscape?: boolean;
  /** List a directory without an index file (else 404). @default {false} */
  listing?: boolean;
}

function plain(
  status: number,
  message: string,
  headers: Record<string, string> = {},
): HttpResponse {
  return new HttpResponse(message + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

const NOT_FOUND = () => plain(404, "Not Found");

/**
 * A handler serving the files under `root` (GET and HEAD; other methods
 * get 405). A directory requested without its trailing slash is
 * redirected to it.
 *
 * @example
 * ```ts
 * import { serve, serveDir } from "@lunet/lunet/http";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/hello.txt`, "hello\n");
 * const server = await serve(serveDir(dir), { port: 0 });
 * const res = await fetch(`http://127.0.0.1:${server.addr.port}/hello.txt`);
 * if ((await res.text()) !== "hello\n") throw new Error("unexpected body");
 * await server.shutdown();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function serveDir(
  root: string,
  opts: ServeDirOptions = {},
): (req: HttpRequest) => Promise<HttpResponse> {
  let rootReal: Promise<string> | undefined;
  const prefix = opts.urlRoot ?? "/";
  const index = opts.index ?? "index.html";
  return async (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return plain(405, "Method Not Allowed", { allow: "GET, HEAD" });
    }
    const base = await (rootReal ??= Deno.realPath(root).catch((err) => {
      rootReal = undefined;
      throw fromDenoError(err, "http: serveDir", root);
    }));
    const resolved = resolvePath(base, req.path, prefix, opts.dotfiles === true);
    if ("status" in resolved) {
      return resolved.status === 400 ? plain(400, "Bad Request") : NOT_FOUND();
    }
    let real: string, info: Deno.FileInfo;
    try {
      real = await Deno.realPath(resolved.path);
      if (!opts.allowSymlinkEscape && !inside(base, real)) return NOT_FOUND();
      info = await Deno.stat(real);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
        return NOT_FOUND();
      }
      throw err;
    }
    if (info.isDirectory) {
      if (!req.path.endsWith("/")) {
        const target = req.target;
        const q = target.indexOf("?");
        return redirect(req.path + "/" + (q === -1 ? "" : target.slice(q)), 301);
      }
      if (index !== false) {
        const file = `${real}/${index}`;
        const found = await Deno.stat(file).catch(() => undefined);
        if (found?.isFile) return await fileResponse(req, file, found, opts);
      }
      if (opts.listing) return await listing(real, req.path, opts.dotfiles === true);
      return NOT_FOUND();
    }
    if (!info.isFile) return NOT_FOUND();
    return await fileResponse(req, real, info, opts);
  };
}

/**
 * The response that serves the file at `path` to `req`: 200 with the
 * file, 206 for a satisfiable `Range`, 304 / 412 for conditional
 * requests, 416 for a range past the end, 404 when there is no such
 * file. The path is used as given: check it yourself when it comes from
 * the client (or use {@linkcode serveDir}).
 *
 * @example
 * ```ts
 * import { serve, serveFile } from "@lunet/lunet/http";
 * const file = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(file, '{"ok":true}');
 * const server = await serve((req) => serveFile(req, file), { port: 0 });
 * const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * if (res.headers.get("content-type") !== "application/json; charset=utf-8") throw new Error();
 * if (!(await res.json()).ok) throw new Error("unexpected body");
 * await server.shutdown();
 * await Deno.remove(file);
 * ```
 */
export async function serveFile(
  req: HttpRequest,
  path: string,
  opts: ServeFileOptions = {},
): Promise<HttpResponse> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return NOT_FOUND();
    throw fromDenoError(err, "http: serveFile", path);
  }
  if (!info.isFile) return NOT_FOUND();
  return await fileResponse(req, path, info, opts);
}

function etagOf(info: Deno.FileInfo, suffix: string): string {
  const mtime = info.mtime?.getTime() ?? 0;
  return `"${info.size.toString(16)}-${mtime.toString(16)}${suffix}"`;
}

// The entity tags listed in an If-Match / If-None-Match value.
function tags(value: string): string[] {
  return value.split(",").map((t) => t.trim()).filter((t) => t !== "");
}

function weakEqual(a: string, b: string): boolean {
  return (a.startsWith("W/") ? a.slice(2) : a) === (b.startsWith("W/") ? b.slice(2) : b);
}

// Seconds of an HTTP date, or NaN.
function seconds(date: string): number {
  return Math.floor(Date.parse(date) / 1000);
}

async function fileResponse(
  req: HttpRequest,
  path: string,
  info: Deno.FileInfo,
  opts: ServeFileOptions,
): Promise<HttpResponse> {
  const h = req.headers;
  const type = opts.contentType ?? await mediaType(path) ?? "application/octet-stream";
  const range = req.method === "GET" ? h.get("range") : null;
  let file = path, stat = info, coding: Encoding | "" = "";
  const varies = opts.precompressed !== false && compressibleType(type);
  if (varies && range === null) {
    const accepted = negotiate(h.get("accept-encoding"), ["br", "gzip"]);
    if (accepted !== "") {
      for (const c of accepted === "br" ? ["br", "gzip"] as const : ["gzip"] as const) {
        if (negotiate(h.get("accept-encoding"), [c]) === "") continue;
        const sibling = await Deno.stat(`${path}.${c === "br" ? "br" : "gz"}`).catch(() => null);
        if (sibling?.isFile) {
          file = `${path}.${c === "br" ? "br" : "gz"}`;
          stat = sibling;
          coding = c;
          break;
        }
      }
    }
  }
  const etag = etagOf(stat, coding === "" ? "" : `-${coding}`);
  const mtime = stat.mtime ?? new Date(0);
  const headers: [string, string][] = [
    ["content-type", type],
    ["etag", etag],
    ["last-modified", mtime.toUTCString()],
    ["accept-ranges", "bytes"],
  ];
  if (varies) headers.push(["vary", "accept-encoding"]);
  if (coding !== "") headers.push(["content-encoding", coding]);
  if (opts.cacheControl !== undefined) headers.push(["cache-control", opts.cacheControl]);
  const modified = Math.floor(mtime.getTime() / 1000);

  // RFC 9110 §13.2.2: If-Match, If-Unmodified-Since, If-None-Match,
  // If-Modified-Since, then If-Range.
  const ifMatch = h.get("if-match");
  if (ifMatch !== null) {
    const list = tags(ifMatch);
    if (!list.includes("*") && !list.some((t) => !t.startsWith("W/") && t === etag)) {
      return new HttpResponse(null, { status: 412, headers });
    }
  } else {
    const since = h.get("if-unmodified-since");
    if (since !== null && modified > seconds(since)) {
      return new HttpResponse(null, { status: 412, headers });
    }
  }
  const ifNoneMatch = h.get("if-none-match");
  if (ifNoneMatch !== null) {
    const list = tags(ifNoneMatch);
    if (list.includes("*") || list.some((t) => weakEqual(t, etag))) return notModified(headers);
  } else {
    const since = h.get("if-modified-since");
    if (since !== null && modified <= seconds(since)) return notModified(headers);
  }
  const size = stat.size;
  if (range !== null && rangeApplies(h.get("if-range"), etag, modified)) {
    const ranges = parseRange(range, size);
    if (ranges === "unsatisfiable") {
      return new HttpResponse(null, {
        status: 416,
        headers: [...headers, ["content-range", `bytes */${size}`]],
      });
    }
    if (ranges !== null) return partial(file, type, headers, ranges, size);
  }
  const body = new FileBody(file, size === 0 ? [] : [{ offset: 0, length: size }]);
  return new HttpResponse(body, { headers });
}

function notModified(headers: [string, string][]): HttpResponse {
  return new HttpResponse(null, {
    status: 304,
    headers: headers.filter(([n]) => n !== "content-type" && n !== "accept-ranges"),
  });
}

// If-Range: a strong entity tag equal to the current one, or the exact
// Last-Modified date; otherwise the whole file is sent.
function rangeApplies(ifRange: string | null, etag: string, modified: number): boolean {
  if (ifRange === null) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith("W/")) return v === etag;
  return seconds(v) === modified;
}

function partial(
  file: string,
  type: string,
  headers: [string, string][],
  ranges: ByteRange[],
  size: number,
): HttpResponse {
  if (ranges.length === 1) {
    const [first, last] = ranges[0];
    return new HttpResponse(new FileBody(file, [{ offset: first, length: last - first + 1 }]), {
      status: 206,
      headers: [...headers, ["content-range", contentRange(ranges[0], size)]],
    });
  }
  const boundary = crypto.randomUUID().replaceAll("-", "");
  const segments: Segment[] = [];
  ranges.forEach((r, i) => {
    segments.push(partHead(boundary, type, r, size, i === 0));
    segments.push({ offset: r[0], length: r[1] - r[0] + 1 });
  });
  segments.push(closingDelimiter(boundary));
  const own = headers.map(([n, v]): [string, string] =>
    n === "content-type" ? [n, `multipart/byteranges; boundary=${boundary}`] : [n, v]
  );
  return new HttpResponse(new FileBody(file, segments), { status: 206, headers: own });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function listing(dir: string, urlPath: string, dotfiles: boolean): Promise<HttpResponse> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!dotfiles && e.name.startsWith(".")) continue;
    names.push(e.isDirectory ? e.name + "/" : e.name);
  }
  names.sort();
  const items = names.map((n) =>
    `<li><a href="${escapeHtml(encodeURIComponent(n).replace(/%2F$/, "/"))}">${
      escapeHtml(n)
    }</a></li>`
  );
  const title = escapeHtml(decodeURIComponent(urlPath));
  const html = `<!doctype html><meta charset="utf-8"><title>${title}</title><h1>${title}</h1>` +
    `<ul>${urlPath === "/" ? "" : '<li><a href="../">../</a></li>'}${items.join("")}</ul>\n`;
  return new HttpResponse(html, { headers: { "content-type": "text/html; charset=utf-8" } });
}

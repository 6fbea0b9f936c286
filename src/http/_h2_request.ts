/**
 * From a decoded HTTP/2 header list to the request head the HTTP/1.1
 * engine's {@linkcode HttpRequest} reads (RFC 9113 section 8.3): the
 * pseudo-header fields are checked and taken apart, `:authority` stands
 * in for a missing Host, and the regular fields are laid out as bytes
 * with their offsets, as the HTTP/1.1 parser records them. A malformed
 * request (a missing, repeated, unknown or misplaced pseudo-header, an
 * upper-case or invalid name, a connection-specific field, an invalid
 * value) is a stream error PROTOCOL_ERROR.
 *
 * @example
 * ```ts
 * import { requestHead } from "./_h2_request.ts";
 * const head = requestHead([":method", "GET", ":scheme", "https", ":path", "/a?b", ":authority", "x"], 1, false);
 * if (head.method !== "GET" || head.fields.length !== 4) throw new Error("head");
 * ```
 *
 * @module
 */
import { TCHAR } from "./_ascii.ts";
import { HTTP2_MINOR, type RequestHead } from "./_parser.ts";
import { H2StreamError, PROTOCOL_ERROR } from "./_h2_frames.ts";

const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

function malformed(stream: number, what: string): never {
  throw new H2StreamError(PROTOCOL_ERROR, stream, `malformed request: ${what}`);
}

// Checks a regular field's name and value (RFC 9113 section 8.2.1).
function checkField(name: string, value: string, stream: number): void {
  if (name.length === 0) malformed(stream, "empty field name");
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 0xff || TCHAR[c] !== 1 || (c >= 0x41 && c <= 0x5a)) {
      malformed(stream, `field name ${JSON.stringify(name)}`);
    }
  }
  const n = value.length;
  if (n > 0) {
    const first = value.charCodeAt(0), last = value.charCodeAt(n - 1);
    if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) {
      malformed(stream, `whitespace around the value of ${name}`);
    }
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c === 0 || c === 0x0a || c === 0x0d) malformed(stream, `value of ${name}`);
    }
  }
  if (CONNECTION_SPECIFIC.has(name)) malformed(stream, `connection-specific field ${name}`);
  if (name === "te" && value !== "trailers") malformed(stream, "te other than trailers");
}

/**
 * The request head of the header list `fields` (`[name, value, …]`) of
 * `stream`; `hasBody`: the HEADERS frame did not end the stream. Its
 * `contentLength` is the declared Content-Length (-1 when absent), which
 * the DATA frames must match.
 */
export function requestHead(fields: string[], stream: number, hasBody: boolean): RequestHead {
  let method = "", scheme = "", path = "", authority: string | undefined;
  let regular = false, hasHost = false, contentLength = -1, size = 0;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i], value = fields[i + 1];
    if (name.charCodeAt(0) === 0x3a) {
      if (regular) malformed(stream, `${name} after a regular field`);
      if (name === ":method" && method === "") method = value;
      else if (name === ":scheme" && scheme === "") scheme = value;
      else if (name === ":path" && path === "") path = value;
      else if (name === ":authority" && authority === undefined) authority = value;
      else malformed(stream, `pseudo-header ${name} unknown or repeated`);
      if (value === "" && name !== ":authority") malformed(stream, `empty ${name}`);
      continue;
    }
    regular = true;
    checkField(name, value, stream);
    if (name === "host") hasHost = true;
    else if (name === "content-length") {
      if (!/^[0-9]{1,15}$/.test(value) || (contentLength !== -1 && contentLength !== +value)) {
        malformed(stream, "content-length");
      }
      contentLength = +value;
    }
    size += name.length + value.length;
  }
  if (method === "") malformed(stream, "no :method");
  if (!hasBody && contentLength > 0) malformed(stream, "content-length without DATA");
  if (method === "CONNECT") {
    if (scheme !== "" || path !== "" || authority === undefined) malformed(stream, "CONNECT form");
  } else if (scheme === "" || path === "") malformed(stream, "no :scheme or :path");
  if (authority !== undefined && !hasHost) size += 4 + authority.length;
  const target = method === "CONNECT" ? authority! : path;
  const bytes = new Uint8Array(target.length + size);
  let at = put(bytes, 0, target);
  const offsets: number[] = [];
  const field = (name: string, value: string) => {
    const nameAt = at;
    at = put(bytes, at, name);
    const valueAt = at;
    at = put(bytes, at, value);
    offsets.push(nameAt, valueAt, valueAt, at);
  };
  if (authority !== undefined && !hasHost) field("host", authority);
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i].charCodeAt(0) !== 0x3a) field(fields[i], fields[i + 1]);
  }
  return {
    bytes,
    method,
    targetStart: 0,
    targetEnd: target.length,
    minor: HTTP2_MINOR,
    fields: offsets,
    contentLength,
    chunked: hasBody,
    keepAlive: true,
    expectContinue: false,
    upgrade: false,
  };
}

/** Checks the trailer fields `fields` of `stream`: regular fields only. */
export function checkTrailers(fields: string[], stream: number): void {
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i].charCodeAt(0) === 0x3a) malformed(stream, `${fields[i]} in trailers`);
    checkField(fields[i], fields[i + 1], stream);
  }
}

function put(bytes: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) bytes[at++] = s.charCodeAt(i);
  return at;
}

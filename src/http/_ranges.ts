/**
 * `Range: bytes=…` requests (RFC 9110 §14): parsing against a
 * representation's length, and the part heads of a
 * `multipart/byteranges` body.
 *
 * @module
 */

/** An inclusive byte range `[first, last]`. */
export type ByteRange = [number, number];

/** Most ranges one request may ask for; beyond, the whole file is sent. */
const MAX_RANGES = 64;

/**
 * The ranges `value` asks of a representation of `size` bytes: the list
 * of satisfiable ones, `"unsatisfiable"` when none is (416), or `null`
 * when the field is to be ignored (not `bytes`, malformed, too many).
 */
export function parseRange(value: string, size: number): ByteRange[] | "unsatisfiable" | null {
  const eq = value.indexOf("=");
  if (eq === -1 || value.slice(0, eq).trim().toLowerCase() !== "bytes") return null;
  const specs = value.slice(eq + 1).split(",");
  if (specs.length > MAX_RANGES) return null;
  const out: ByteRange[] = [];
  for (const raw of specs) {
    const spec = raw.trim();
    if (spec === "") continue;
    const m = /^(\d*)-(\d*)$/.exec(spec);
    if (m === null || (m[1] === "" && m[2] === "")) return null;
    if (m[1] === "") {
      const suffix = Number(m[2]);
      if (suffix > 0 && size > 0) out.push([Math.max(0, size - suffix), size - 1]);
      continue;
    }
    const first = Number(m[1]);
    if (m[2] !== "" && Number(m[2]) < first) return null;
    const last = m[2] === "" ? size - 1 : Number(m[2]);
    if (first < size) out.push([first, Math.min(last, size - 1)]);
  }
  return out.length === 0 ? "unsatisfiable" : out;
}

/** The `Content-Range` value of `range` of a `size`-byte representation. */
export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range[0]}-${range[1]}/${size}`;
}

const encoder = new TextEncoder();

/** The head of one part of a `multipart/byteranges` body (the first has no leading CRLF). */
export function partHead(
  boundary: string,
  type: string,
  range: ByteRange,
  size: number,
  first: boolean,
): Uint8Array {
  return encoder.encode(
    `${first ? "" : "\r\n"}--${boundary}\r\ncontent-type: ${type}\r\n` +
      `content-range: ${contentRange(range, size)}\r\n\r\n`,
  );
}

/** The closing delimiter of a `multipart/byteranges` body. */
export function closingDelimiter(boundary: string): Uint8Array {
  return encoder.encode(`\r\n--${boundary}--\r\n`);
}

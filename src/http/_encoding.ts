/**
 * Content-coding negotiation (RFC 9110 §12.5.3): which of the codings a
 * server offers an `Accept-Encoding` field admits, by q-value, with
 * `identity`, `*` and `q=0` exclusions honoured.
 *
 * @module
 */

/** A content coding lunet/http can produce. */
export type Encoding = "zstd" | "br" | "gzip";

/**
 * The coding of `offered` (in the server's order of preference) that the
 * `Accept-Encoding` value `accept` rates highest, or `""` when the client
 * accepts none of them (then the body goes out as it is). A missing field
 * (`null`) asks for no coding. A coding named with `q=0` is refused, `*`
 * rates every coding not named, and ties go to the server's order.
 */
export function negotiate(accept: string | null, offered: readonly Encoding[]): Encoding | "" {
  if (accept === null || accept.length === 0) return "";
  let best: Encoding | "" = "", bestQ = 0, bestRank = Infinity;
  let star = -1;
  const named = new Map<string, number>();
  for (const item of accept.split(",")) {
    const semi = item.indexOf(";");
    const name = (semi === -1 ? item : item.slice(0, semi)).trim().toLowerCase();
    if (name === "") continue;
    const q = semi === -1 ? 1 : qValue(item.slice(semi + 1));
    if (name === "*") star = q;
    else {
      const key = name === "x-gzip" ? "gzip" : name;
      named.set(key, Math.max(q, named.get(key) ?? -1));
    }
  }
  for (let rank = 0; rank < offered.length; rank++) {
    const coding = offered[rank];
    const q = named.get(coding) ?? (star === -1 ? 0 : star);
    if (q > bestQ || (q === bestQ && q > 0 && rank < bestRank)) {
      best = coding;
      bestQ = q;
      bestRank = rank;
    }
  }
  return best;
}

// The weight of the parameters after a coding: `q=0.5`; 1 without one,
// 0 when it is malformed (a client that sends garbage gets no coding).
function qValue(params: string): number {
  for (const param of params.split(";")) {
    const eq = param.indexOf("=");
    if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== "q") continue;
    const text = param.slice(eq + 1).trim();
    if (!/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(text)) return 0;
    return Number(text);
  }
  return 1;
}

/**
 * Media types of files by extension, from `mime-db` (the table behind
 * the `mime-types` package: IANA, Apache and nginx, kept up to date),
 * loaded on first use so lunet/http loads no npm package until a static
 * file is served. Where several types claim an extension, the choice is
 * `mime-types`' (nginx over Apache over IANA; a type outside
 * `application/` wins a tie). Text types get `charset=utf-8`.
 *
 * @module
 */

interface MimeEntry {
  source?: string;
  charset?: string;
  extensions?: string[];
}

const PREFERENCE = ["nginx", "apache", undefined, "iana"];
let table: Promise<Map<string, string>> | undefined;

async function load(): Promise<Map<string, string>> {
  const db = (await import("mime-db")).default as Record<string, MimeEntry>;
  const chosen = new Map<string, string>();
  for (const [type, entry] of Object.entries(db)) {
    for (const ext of entry.extensions ?? []) {
      const had = chosen.get(ext);
      if (had !== undefined && had !== "application/octet-stream") {
        const from = PREFERENCE.indexOf(db[had].source);
        const to = PREFERENCE.indexOf(entry.source);
        if (from > to || (from === to && had.startsWith("application/"))) continue;
      }
      chosen.set(ext, type);
    }
  }
  const out = new Map<string, string>();
  for (const [ext, type] of chosen) {
    const charset = db[type].charset ?? (type.startsWith("text/") ? "UTF-8" : undefined);
    out.set(ext, charset === undefined ? type : `${type}; charset=${charset.toLowerCase()}`);
  }
  return out;
}

/** The media type of a file named `name`, or `undefined` for an unknown extension. */
export async function mediaType(name: string): Promise<string | undefined> {
  const slash = name.lastIndexOf("/");
  const dot = name.lastIndexOf(".");
  if (dot <= slash + 1) return undefined;
  const types = await (table ??= load());
  return types.get(name.slice(dot + 1).toLowerCase());
}

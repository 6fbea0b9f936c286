/**
 * What the TechEmpower test types share between the Deno peers (the
 * node:http peer has its own copy in node_server.mjs, since Node 20 runs no
 * TypeScript): the `queries` parameter rule, random World ids, the batched
 * update statement, and the Fortunes template with HTML escaping.
 *
 * @module
 */

/** Rows in the World table. */
export const WORLD_ROWS = 10_000;

/** The plaintext body. */
export const HELLO = "Hello, World!";

/** The fortune added at request time. */
export const EXTRA_FORTUNE = "Additional fortune added at request time.";

/** A random World id, 1…10 000. */
export function randomId(): number {
  return 1 + Math.floor(Math.random() * WORLD_ROWS);
}

/** The `queries` parameter of `target` by the TechEmpower rule: 1…500, 1 when missing or bad. */
export function queriesOf(target: string): number {
  const at = target.indexOf("queries=");
  if (at === -1) return 1;
  const n = parseInt(target.slice(at + 8), 10);
  return Number.isNaN(n) || n < 1 ? 1 : n > 500 ? 500 : n;
}

const updates = new Map<number, string>();

/**
 * One UPDATE for `n` rows: `UPDATE world SET randomnumber = v.r FROM
 * (VALUES ($1::int, $2::int), …) AS v (id, r) WHERE world.id = v.id`
 * (the batched update the rules allow), cached per `n`.
 */
export function updateSql(n: number): string {
  let sql = updates.get(n);
  if (sql === undefined) {
    const values = Array.from({ length: n }, (_, i) => `($${2 * i + 1}::int, $${2 * i + 2}::int)`);
    sql = "UPDATE world SET randomnumber = v.r FROM (VALUES " + values.join(", ") +
      ") AS v (id, r) WHERE world.id = v.id";
    updates.set(n, sql);
  }
  return sql;
}

/** The update's parameters: id, number pairs, sorted by id so concurrent batches never deadlock. */
export function updateParams(worlds: { id: number; randomNumber: number }[]): number[] {
  const sorted = [...worlds].sort((a, b) => a.id - b.id);
  return sorted.flatMap((w) => [w.id, w.randomNumber]);
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#x27;",
};

/** `text` with `& < > " '` escaped for HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** The Fortunes page: every row plus the request-time one, sorted by message. */
export function fortunesHtml(rows: { id: number; message: string }[]): string {
  const all = [...rows, { id: 0, message: EXTRA_FORTUNE }];
  all.sort((a, b) => (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
  let html = "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>" +
    "<tr><th>id</th><th>message</th></tr>";
  for (const f of all) html += `<tr><td>${f.id}</td><td>${escapeHtml(f.message)}</td></tr>`;
  return html + "</table></body></html>";
}

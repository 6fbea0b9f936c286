/**
 * A notes store on lunet/sqlite, offered as three MCP tools: `notes_add`,
 * `notes_search` and `notes_list`. Queries run on the driver's worker
 * threads, so a slow search never stalls the server's other sessions.
 *
 * @example
 * ```ts ignore
 * import * as sqlite from "../../../drivers/sqlite.ts";
 * import { notesTools, prepareNotes } from "./notes.ts";
 * const db = await sqlite.open(":memory:");
 * await prepareNotes(db);
 * const [add] = notesTools(db);
 * console.log(await add.call({ title: "hello", body: "world", tags: "" }));
 * await db.close();
 * ```
 * @module
 */
import type { Queryable } from "../../../drivers/sqlite.ts";
import { textResult, type Tool } from "../registry.ts";

/** One stored note. */
export interface Note {
  /** Row id. */
  id: number;
  /** Title. */
  title: string;
  /** Text. */
  body: string;
  /** Comma-separated tags. */
  tags: string;
  /** Creation time, ISO 8601 UTC. */
  created: string;
}

/** Creates the notes table when it is missing. */
export async function prepareNotes(db: Queryable): Promise<void> {
  await db.exec(`CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
  )`);
}

const COLUMNS = "id, title, body, tags, created";

/** The three notes tools, bound to `db` (prepared by {@linkcode prepareNotes}). */
export function notesTools(db: Queryable): Tool[] {
  return [
    {
      name: "notes_add",
      title: "Add a note",
      description: "Stores a note (title, body, optional comma-separated tags) and returns its id.",
      inputSchema: {
        type: "object",
        properties: {
          title: { type: "string", minLength: 1, maxLength: 200, description: "Short title" },
          body: { type: "string", minLength: 1, maxLength: 20_000, description: "Note text" },
          tags: { type: "string", maxLength: 200, default: "", description: "e.g. work,ideas" },
        },
        required: ["title", "body"],
        additionalProperties: false,
      },
      async call(args) {
        const tags = normalizeTags(args.tags as string);
        const { lastInsertId } = await db.exec(
          "INSERT INTO notes (title, body, tags) VALUES (?, ?, ?)",
          args.title,
          args.body,
          tags,
        );
        const id = Number(lastInsertId);
        return textResult(`Added note #${id}: ${args.title}`, { id });
      },
    },
    {
      name: "notes_search",
      title: "Search notes",
      description: "Finds notes whose title, body or tags contain the text (case-insensitive).",
      annotations: { readOnlyHint: true },
      inputSchema: {
        type: "object",
        properties: {
          query: { type: "string", minLength: 1, maxLength: 200, description: "Text to look for" },
          limit: { type: "integer", minimum: 1, maximum: 50, default: 10 },
        },
        required: ["query"],
        additionalProperties: false,
      },
      async call(args) {
        const pattern = `%${escapeLike(args.query as string)}%`;
        const notes = await db.query<Note>(
          `SELECT ${COLUMNS} FROM notes
           WHERE title LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\' OR tags LIKE ? ESCAPE '\\'
           ORDER BY id DESC LIMIT ?`,
          pattern,
          pattern,
          pattern,
          args.limit,
        );
        return listing(notes, `No note matches "${args.query}".`);
      },
    },
    {
      name: "notes_list",
      title: "List notes",
      description: "Lists the most recent notes, newest first.",
      annotations: { readOnlyHint: true },
      inputSchema: {
        type: "object",
        properties: {
          limit: { type: "integer", minimum: 1, maximum: 100, default: 20 },
          offset: { type: "integer", minimum: 0, default: 0 },
        },
        additionalProperties: false,
      },
      async call(args) {
        const notes = await db.query<Note>(
          `SELECT ${COLUMNS} FROM notes ORDER BY id DESC LIMIT ? OFFSET ?`,
          args.limit,
          args.offset,
        );
        return listing(notes, "No notes yet.");
      },
    },
  ];
}

function listing(notes: Note[], empty: string) {
  const rows = notes.map((n) => ({ ...n, id: Number(n.id) }));
  const text = rows.length
    ? rows.map((n) =>
      `#${n.id} ${n.title}${n.tags ? ` [${n.tags}]` : ""} (${n.created})\n${n.body}`
    )
      .join("\n\n")
    : empty;
  return textResult(text, { notes: rows });
}

function normalizeTags(tags: string): string {
  return tags.split(",").map((t) => t.trim()).filter(Boolean).join(",");
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * The notes, in one SQLite table on lunet/sqlite: queries run on the
 * driver's worker threads, so a slow search never stalls the server's
 * other sessions. Changes are announced to listeners (for resource
 * updates and list changes).
 *
 * @example
 * ```ts ignore
 * import * as sqlite from "../../../drivers/sqlite.ts";
 * import { NotesStore } from "./store.ts";
 * const db = await sqlite.open(":memory:");
 * const notes = await NotesStore.open(db);
 * const id = await notes.add("hello", "world", "greetings");
 * console.log((await notes.get(id))?.title); // "hello"
 * await db.close();
 * ```
 * @module
 */
import type { Queryable } from "../../../drivers/sqlite.ts";

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

/** What changed. */
export type NoteChange = { kind: "added" | "updated" | "deleted"; id: number };

const COLUMNS = "id, title, body, tags, created";

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

/** The notes table. */
export class NotesStore {
  readonly #db: Queryable;
  readonly #listeners = new Set<(change: NoteChange) => void>();

  /** @param db a database whose notes table exists (see {@linkcode NotesStore.open}) */
  constructor(db: Queryable) {
    this.#db = db;
  }

  /** Creates the table when missing and returns the store. */
  static async open(db: Queryable): Promise<NotesStore> {
    await prepareNotes(db);
    return new NotesStore(db);
  }

  /** Calls `listener` after every change; returns a function that stops it. */
  onChange(listener: (change: NoteChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stores a note; returns its id. */
  async add(title: string, body: string, tags: string): Promise<number> {
    const { lastInsertId } = await this.#db.exec(
      "INSERT INTO notes (title, body, tags) VALUES (?, ?, ?)",
      title,
      body,
      normalizeTags(tags),
    );
    const id = Number(lastInsertId);
    this.#changed({ kind: "added", id });
    return id;
  }

  /** Changes the given fields of a note; false when there is none with that id. */
  async update(
    id: number,
    fields: { title?: string; body?: string; tags?: string },
  ): Promise<boolean> {
    const sets: string[] = [], values: unknown[] = [];
    for (const [name, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      sets.push(`${name} = ?`);
      values.push(name === "tags" ? normalizeTags(value) : value);
    }
    if (!sets.length) return (await this.get(id)) !== undefined;
    const { affectedRows } = await this.#db.exec(
      `UPDATE notes SET ${sets.join(", ")} WHERE id = ?`,
      ...values,
      id,
    );
    if (affectedRows > 0) this.#changed({ kind: "updated", id });
    return affectedRows > 0;
  }

  /** Deletes a note; false when there was none. */
  async delete(id: number): Promise<boolean> {
    const { affectedRows } = await this.#db.exec("DELETE FROM notes WHERE id = ?", id);
    if (affectedRows > 0) this.#changed({ kind: "deleted", id });
    return affectedRows > 0;
  }

  /** One note, or `undefined`. */
  async get(id: number): Promise<Note | undefined> {
    const [row] = await this.#db.query<Note>(`SELECT ${COLUMNS} FROM notes WHERE id = ?`, id);
    return row ? { ...row, id: Number(row.id) } : undefined;
  }

  /** The most recent notes, newest first. */
  async list(limit: number, offset = 0): Promise<Note[]> {
    const rows = await this.#db.query<Note>(
      `SELECT ${COLUMNS} FROM notes ORDER BY id DESC LIMIT ? OFFSET ?`,
      limit,
      offset,
    );
    return rows.map((n) => ({ ...n, id: Number(n.id) }));
  }

  /** Notes whose title, body or tags contain `text` (case-insensitive), newest first. */
  async search(text: string, limit: number): Promise<Note[]> {
    const pattern = `%${escapeLike(text)}%`;
    const rows = await this.#db.query<Note>(
      `SELECT ${COLUMNS} FROM notes
       WHERE title LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\' OR tags LIKE ? ESCAPE '\\'
       ORDER BY id DESC LIMIT ?`,
      pattern,
      pattern,
      pattern,
      limit,
    );
    return rows.map((n) => ({ ...n, id: Number(n.id) }));
  }

  /** Notes carrying tag `tag`, newest first. */
  async tagged(tag: string, limit: number): Promise<Note[]> {
    const rows = await this.#db.query<Note>(
      `SELECT ${COLUMNS} FROM notes WHERE ',' || tags || ',' LIKE ? ESCAPE '\\'
       ORDER BY id DESC LIMIT ?`,
      `%,${escapeLike(tag)},%`,
      limit,
    );
    return rows.map((n) => ({ ...n, id: Number(n.id) }));
  }

  /** Every tag in use that starts with `prefix`, sorted. */
  async tags(prefix = ""): Promise<string[]> {
    const rows = await this.#db.query<{ tags: string }>(
      "SELECT DISTINCT tags FROM notes WHERE tags != ''",
    );
    const all = new Set<string>();
    for (const { tags } of rows) for (const t of tags.split(",")) all.add(t);
    const p = prefix.toLowerCase();
    return [...all].filter((t) => t.toLowerCase().startsWith(p)).sort();
  }

  /** Ids (as text) of recent notes that start with `prefix`. */
  async ids(prefix = ""): Promise<string[]> {
    const rows = await this.#db.query<{ id: number }>(
      "SELECT id FROM notes WHERE CAST(id AS TEXT) LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT 100",
      `${escapeLike(prefix)}%`,
    );
    return rows.map((r) => String(r.id));
  }

  #changed(change: NoteChange): void {
    for (const listener of this.#listeners) listener(change);
  }
}

function normalizeTags(tags: string): string {
  return tags.split(",").map((t) => t.trim()).filter(Boolean).join(",");
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

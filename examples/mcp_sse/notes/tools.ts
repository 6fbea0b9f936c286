/**
 * The notes as MCP tools: `notes_add`, `notes_search`, `notes_list`,
 * `notes_update` and `notes_delete`. Each declares its output schema and
 * returns structured data beside the text; listings link every note as a
 * `note://{id}` resource. `notes_delete` asks the user to confirm when
 * the client can ask (elicitation), and reports progress when asked to.
 *
 * @example
 * ```ts ignore
 * import { NotesStore } from "./store.ts";
 * import { notesTools } from "./tools.ts";
 * const [add] = notesTools(await NotesStore.open(db));
 * console.log(await add.call({ title: "hello", body: "world", tags: "" }, ctx));
 * ```
 * @module
 */
import type { Content } from "../content.ts";
import { CapabilityError } from "../context.ts";
import { errorResult, textResult, type Tool, type ToolResult } from "../registry.ts";
import type { ObjectSchema } from "../schema.ts";
import type { Note, NotesStore } from "./store.ts";

const NOTE_SCHEMA = {
  type: "object",
  properties: {
    id: { type: "integer" },
    title: { type: "string" },
    body: { type: "string" },
    tags: { type: "string" },
    created: { type: "string" },
  },
  required: ["id", "title", "body", "tags", "created"],
};

const LISTING_SCHEMA: ObjectSchema = {
  type: "object",
  properties: { notes: { type: "array", items: NOTE_SCHEMA } },
  required: ["notes"],
};

const ID_SCHEMA: ObjectSchema = {
  type: "object",
  properties: { id: { type: "integer" } },
  required: ["id"],
};

/** The link to a note's resource. */
export function noteLink(note: Pick<Note, "id" | "title">): Content {
  return {
    type: "resource_link",
    uri: `note://${note.id}`,
    name: `note-${note.id}`,
    title: note.title,
    mimeType: "text/markdown",
  };
}

/** The five notes tools. */
export function notesTools(notes: NotesStore): Tool[] {
  return [
    {
      name: "notes_add",
      title: "Add a note",
      description: "Stores a note (title, body, optional comma-separated tags) and returns its id.",
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
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
      outputSchema: ID_SCHEMA,
      async call(args) {
        const id = await notes.add(args.title as string, args.body as string, args.tags as string);
        const result = textResult(`Added note #${id}: ${args.title}`, { id });
        result.content.push(noteLink({ id, title: args.title as string }));
        return result;
      },
    },
    {
      name: "notes_search",
      title: "Search notes",
      description: "Finds notes whose title, body or tags contain the text (case-insensitive).",
      annotations: { readOnlyHint: true, openWorldHint: false },
      inputSchema: {
        type: "object",
        properties: {
          query: { type: "string", minLength: 1, maxLength: 200, description: "Text to look for" },
          limit: { type: "integer", minimum: 1, maximum: 50, default: 10 },
        },
        required: ["query"],
        additionalProperties: false,
      },
      outputSchema: LISTING_SCHEMA,
      async call(args) {
        const found = await notes.search(args.query as string, args.limit as number);
        return listing(found, `No note matches "${args.query}".`);
      },
    },
    {
      name: "notes_list",
      title: "List notes",
      description: "Lists the most recent notes, newest first.",
      annotations: { readOnlyHint: true, openWorldHint: false },
      inputSchema: {
        type: "object",
        properties: {
          limit: { type: "integer", minimum: 1, maximum: 100, default: 20 },
          offset: { type: "integer", minimum: 0, default: 0 },
        },
        additionalProperties: false,
      },
      outputSchema: LISTING_SCHEMA,
      async call(args) {
        return listing(
          await notes.list(args.limit as number, args.offset as number),
          "No notes yet.",
        );
      },
    },
    {
      name: "notes_update",
      title: "Update a note",
      description: "Changes the title, body or tags of a note.",
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
      inputSchema: {
        type: "object",
        properties: {
          id: { type: "integer", minimum: 1 },
          title: { type: "string", minLength: 1, maxLength: 200 },
          body: { type: "string", minLength: 1, maxLength: 20_000 },
          tags: { type: "string", maxLength: 200 },
        },
        required: ["id"],
        additionalProperties: false,
      },
      outputSchema: ID_SCHEMA,
      async call(args) {
        const id = args.id as number;
        const fields = { title: args.title, body: args.body, tags: args.tags } as Record<
          string,
          string | undefined
        >;
        if (!(await notes.update(id, fields))) return errorResult(`No note #${id}.`);
        return textResult(`Updated note #${id}.`, { id });
      },
    },
    {
      name: "notes_delete",
      title: "Delete a note",
      description: "Deletes a note, after the user confirms when the client can ask.",
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
      inputSchema: {
        type: "object",
        properties: { id: { type: "integer", minimum: 1 } },
        required: ["id"],
        additionalProperties: false,
      },
      outputSchema: ID_SCHEMA,
      async call(args, ctx): Promise<ToolResult> {
        const id = args.id as number;
        const note = await notes.get(id);
        if (!note) return errorResult(`No note #${id}.`);
        await ctx.progress(0, 2, "asking for confirmation");
        try {
          const answer = await ctx.elicit({
            message: `Delete note #${id} "${note.title}"?`,
            requestedSchema: {
              type: "object",
              properties: { confirm: { type: "boolean", title: "Delete it", default: false } },
              required: ["confirm"],
            },
          }, { timeout: 120_000 });
          if (answer.action !== "accept" || answer.content?.confirm !== true) {
            return errorResult(`Note #${id} kept: the user did not confirm.`);
          }
        } catch (err) {
          if (!(err instanceof CapabilityError)) throw err;
        }
        await notes.delete(id);
        await ctx.progress(2, 2, "deleted");
        return textResult(`Deleted note #${id}.`, { id });
      },
    },
  ];
}

function listing(rows: Note[], empty: string): ToolResult {
  const text = rows.length
    ? rows.map((n) =>
      `#${n.id} ${n.title}${n.tags ? ` [${n.tags}]` : ""} (${n.created})\n${n.body}`
    ).join("\n\n")
    : empty;
  return textResult(text, { notes: rows });
}

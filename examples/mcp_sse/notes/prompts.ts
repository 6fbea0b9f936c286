/**
 * Prompts over the notes: `review_note` embeds one note (as its resource)
 * and asks for a critique; `summarize_tag` embeds the notes of a tag and
 * asks for a summary. Their arguments complete from the notes table.
 *
 * @example
 * ```ts ignore
 * import { PromptRegistry } from "../prompts.ts";
 * import { notePrompts } from "./prompts.ts";
 * const prompts = new PromptRegistry();
 * for (const p of notePrompts(notes)) prompts.add(p);
 * ```
 * @module
 */
import { INVALID_PARAMS, RpcError } from "../jsonrpc.ts";
import type { Prompt, PromptMessage } from "../prompts.ts";
import { noteMarkdown } from "./resources.ts";
import type { NotesStore } from "./store.ts";

/** The notes prompts. */
export function notePrompts(notes: NotesStore): Prompt[] {
  return [
    {
      name: "review_note",
      title: "Review a note",
      description: "Asks for a critique of one note, embedded as its resource.",
      arguments: [{
        name: "id",
        title: "Note id",
        description: "The note to review",
        required: true,
      }],
      async get({ id }) {
        const note = /^\d+$/.test(id) ? await notes.get(Number(id)) : undefined;
        if (!note) throw new RpcError(INVALID_PARAMS, `No note #${id}`);
        return {
          description: `Review of note #${note.id}`,
          messages: [
            {
              role: "user",
              content: {
                type: "resource",
                resource: {
                  uri: `note://${note.id}`,
                  mimeType: "text/markdown",
                  text: noteMarkdown(note),
                },
              },
            },
            {
              role: "user",
              content: {
                type: "text",
                text: "Review the note above: what is unclear, missing or wrong?",
              },
            },
          ],
        };
      },
      complete: { id: (value) => notes.ids(value) },
    },
    {
      name: "summarize_tag",
      title: "Summarize a tag",
      description: "Asks for a summary of the notes carrying one tag.",
      arguments: [{ name: "tag", title: "Tag", description: "The tag", required: true }],
      async get({ tag }) {
        const tagged = await notes.tagged(tag, 20);
        const messages: PromptMessage[] = tagged.map((note) => ({
          role: "user",
          content: {
            type: "resource",
            resource: {
              uri: `note://${note.id}`,
              mimeType: "text/markdown",
              text: noteMarkdown(note),
            },
          },
        }));
        messages.push({
          role: "user",
          content: {
            type: "text",
            text: tagged.length
              ? `Summarize the ${tagged.length} notes tagged "${tag}" above in a few sentences.`
              : `There are no notes tagged "${tag}". Say so.`,
          },
        });
        return { description: `Summary of the notes tagged ${tag}`, messages };
      },
      complete: { tag: (value) => notes.tags(value) },
    },
  ];
}

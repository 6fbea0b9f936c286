/**
 * The notes as MCP resources: each note is `note://{id}` (Markdown), the
 * notes of a tag are `notes://tag/{tag}` (JSON), and `notes://export.json.gz`
 * is every note, gzip-compressed (a binary resource). Note ids and tags
 * complete as the user types; a note that changes is announced to the
 * clients subscribed to it, and the list changes as notes come and go.
 *
 * @example
 * ```ts ignore
 * import { ResourceRegistry } from "../resources.ts";
 * import { addNoteResources } from "./resources.ts";
 * const resources = new ResourceRegistry();
 * addNoteResources(resources, notes);
 * console.log(await resources.read("note://1"));
 * ```
 * @module
 */
import { base64, type ResourceContents } from "../content.ts";
import type { ResourceRegistry } from "../resources.ts";
import type { Note, NotesStore } from "./store.ts";

/** Notes listed by `resources/list`, newest first. */
const LISTED = 500;

/** A note as Markdown. */
export function noteMarkdown(note: Note): string {
  const tags = note.tags ? `\n\nTags: ${note.tags.split(",").join(", ")}` : "";
  return `# ${note.title}\n\n${note.body}${tags}\n\n_Created ${note.created}_\n`;
}

/** Adds the notes' resources and templates to `resources`; returns a function that detaches them. */
export function addNoteResources(resources: ResourceRegistry, notes: NotesStore): () => void {
  resources
    .add({
      uri: "notes://export.json.gz",
      name: "notes-export",
      title: "All notes (gzip)",
      description: "Every note as a JSON array, gzip-compressed.",
      mimeType: "application/gzip",
      async read() {
        const all = await notes.list(1_000_000);
        const gz = new Blob([JSON.stringify(all)]).stream()
          .pipeThrough(new CompressionStream("gzip"));
        const bytes = new Uint8Array(await new Response(gz).arrayBuffer());
        return [{
          uri: "notes://export.json.gz",
          mimeType: "application/gzip",
          blob: base64(bytes),
        }];
      },
    })
    .addTemplate({
      uriTemplate: "note://{id}",
      name: "note",
      title: "A note",
      description: "One note, as Markdown.",
      mimeType: "text/markdown",
      async read(uri, { id }): Promise<ResourceContents[] | undefined> {
        if (!/^\d+$/.test(id)) return undefined;
        const note = await notes.get(Number(id));
        return note && [{ uri, mimeType: "text/markdown", text: noteMarkdown(note) }];
      },
      complete: { id: (value) => notes.ids(value) },
    })
    .addTemplate({
      uriTemplate: "notes://tag/{tag}",
      name: "notes-by-tag",
      title: "Notes with a tag",
      description: "The notes carrying one tag, as JSON.",
      mimeType: "application/json",
      async read(uri, { tag }) {
        const tagged = await notes.tagged(tag, 100);
        return [{ uri, mimeType: "application/json", text: JSON.stringify(tagged) }];
      },
      complete: { tag: (value) => notes.tags(value) },
    })
    .addSource(async () =>
      (await notes.list(LISTED)).map((n) => ({
        uri: `note://${n.id}`,
        name: `note-${n.id}`,
        title: n.title,
        mimeType: "text/markdown",
        annotations: { lastModified: new Date(n.created).toISOString() },
      }))
    );
  return notes.onChange((change) => {
    if (change.kind !== "added") resources.updated(`note://${change.id}`);
    if (change.kind !== "updated") resources.changed();
  });
}

/**
 * What the server offers: the notes (tools, resources and prompts on one
 * SQLite table), `http_fetch` always, `web_search` when a Tavily API key
 * is configured, and — for the official conformance suite — its fixtures.
 *
 * @example
 * ```ts ignore
 * import * as sqlite from "../../drivers/sqlite.ts";
 * import { createCatalog } from "./catalog.ts";
 * const db = await sqlite.open("notes.db");
 * const catalog = await createCatalog({ db });
 * console.log(catalog.tools.names);
 * ```
 * @module
 */
import type { Queryable } from "../../drivers/sqlite.ts";
import { addNoteResources } from "./notes/resources.ts";
import { notePrompts } from "./notes/prompts.ts";
import { NotesStore } from "./notes/store.ts";
import { notesTools } from "./notes/tools.ts";
import { PromptRegistry } from "./prompts.ts";
import type { Catalog } from "./protocol.ts";
import { ToolRegistry } from "./registry.ts";
import { ResourceRegistry } from "./resources.ts";
import { type HttpFetchOptions, httpFetchTool } from "./tools/http_fetch.ts";
import { type WebSearchOptions, webSearchTool } from "./tools/web_search.ts";

/** What {@linkcode createCatalog} builds on. */
export interface CatalogOptions {
  /** The notes database (the table is created when missing). */
  db: Queryable;
  /** Limits of `http_fetch`. */
  fetch?: HttpFetchOptions;
  /** Settings of `web_search`; the tool is left out without them. */
  webSearch?: WebSearchOptions;
  /** Also offer the conformance suite's fixtures. */
  conformance?: boolean;
}

/** The registries, and the notes store they share. */
export interface ServerCatalog extends Required<Catalog> {
  /** The notes. */
  notes: NotesStore;
}

/** Prepares the notes table and builds the registries. */
export async function createCatalog(opts: CatalogOptions): Promise<ServerCatalog> {
  const notes = await NotesStore.open(opts.db);
  const tools = new ToolRegistry([...notesTools(notes), httpFetchTool(opts.fetch)]);
  if (opts.webSearch) tools.add(webSearchTool(opts.webSearch));
  const resources = new ResourceRegistry();
  addNoteResources(resources, notes);
  const prompts = new PromptRegistry();
  for (const prompt of notePrompts(notes)) prompts.add(prompt);
  const catalog = { tools, resources, prompts, notes };
  // The fixtures are loaded only when asked for.
  if (opts.conformance) (await import("./conformance/catalog.ts")).addConformanceFixtures(catalog);
  return catalog;
}

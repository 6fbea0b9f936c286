/**
 * The server's tools: the SQLite notes store and `http_fetch` always, and
 * `web_search` when a Tavily API key is configured.
 *
 * @example
 * ```ts ignore
 * import * as sqlite from "../../drivers/sqlite.ts";
 * import { createTools, webSearchFromEnv } from "./toolset.ts";
 * const db = await sqlite.open("notes.db");
 * const tools = await createTools({ db, webSearch: webSearchFromEnv() });
 * console.log(tools.names);
 * ```
 * @module
 */
import type { Queryable } from "../../drivers/sqlite.ts";
import { readEnv } from "../../src/env.ts";
import { ToolRegistry } from "./registry.ts";
import { type HttpFetchOptions, httpFetchTool } from "./tools/http_fetch.ts";
import { notesTools, prepareNotes } from "./tools/notes.ts";
import { TAVILY_SEARCH_URL, type WebSearchOptions, webSearchTool } from "./tools/web_search.ts";

/** What {@linkcode createTools} builds the tools on. */
export interface ToolsetOptions {
  /** The notes database (the table is created when missing). */
  db: Queryable;
  /** Limits of `http_fetch`. */
  fetch?: HttpFetchOptions;
  /** Settings of `web_search`; the tool is left out without them. */
  webSearch?: WebSearchOptions;
}

/** Prepares the notes table and returns the registry of every tool. */
export async function createTools(opts: ToolsetOptions): Promise<ToolRegistry> {
  await prepareNotes(opts.db);
  const tools = new ToolRegistry([...notesTools(opts.db), httpFetchTool(opts.fetch)]);
  if (opts.webSearch) tools.add(webSearchTool(opts.webSearch));
  return tools;
}

/**
 * `web_search` settings from the environment: `TAVILY_API_KEY` (required
 * to enable the tool) and `TAVILY_API_URL` (the endpoint, by default the
 * public Tavily search API).
 */
export function webSearchFromEnv(): WebSearchOptions | undefined {
  const apiKey = readEnv("TAVILY_API_KEY");
  if (!apiKey) return undefined;
  return { apiKey, endpoint: readEnv("TAVILY_API_URL") || TAVILY_SEARCH_URL };
}

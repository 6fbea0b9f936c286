/**
 * The `web_search` MCP tool: a web search through the Tavily API over
 * lunet/httpc. It is offered only when an API key is configured
 * (`TAVILY_API_KEY`); the endpoint is configurable (`TAVILY_API_URL`) so a
 * test can point it at a local stand-in.
 *
 * @example
 * ```ts ignore
 * import { webSearchTool } from "./web_search.ts";
 * const tool = webSearchTool({ apiKey: "tvly-…" });
 * console.log(await tool.call({ query: "lunet coroutines", max_results: 3 }));
 * ```
 * @module
 */
import { textResult, type Tool } from "../registry.ts";

/** The public Tavily search endpoint. */
export const TAVILY_SEARCH_URL = "https://api.tavily.com/search";

/** Settings of {@linkcode webSearchTool}. */
export interface WebSearchOptions {
  /** Tavily API key. */
  apiKey: string;
  /** Search endpoint (default {@linkcode TAVILY_SEARCH_URL}). */
  endpoint?: string;
  /** Budget per search, ms (default 30 000). */
  timeout?: number;
  /** Extra trusted CA certificates for the endpoint (PEM). */
  caCerts?: string[];
}

interface TavilyResult {
  title?: string;
  url?: string;
  content?: string;
  score?: number;
}

interface TavilyResponse {
  answer?: string | null;
  results?: TavilyResult[];
  detail?: { error?: string } | string;
}

/** The `web_search` tool. */
export function webSearchTool(opts: WebSearchOptions): Tool {
  return {
    name: "web_search",
    title: "Web search",
    description: "Searches the web (Tavily) and returns the top results with short extracts.",
    annotations: { readOnlyHint: true, openWorldHint: true },
    inputSchema: {
      type: "object",
      properties: {
        query: { type: "string", minLength: 1, maxLength: 400, description: "What to search for" },
        max_results: { type: "integer", minimum: 1, maximum: 10, default: 5 },
        search_depth: { type: "string", enum: ["basic", "advanced"], default: "basic" },
      },
      required: ["query"],
      additionalProperties: false,
    },
    outputSchema: {
      type: "object",
      properties: {
        answer: { description: "A short answer, or null" },
        results: {
          type: "array",
          items: {
            type: "object",
            properties: {
              title: { type: "string" },
              url: { type: "string" },
              content: { type: "string" },
            },
          },
        },
      },
      required: ["answer", "results"],
    },
    async call(args) {
      // lunet/httpc, and the node:http/https modules under it, load with the first call.
      const httpc = await import("../../../src/httpc.ts");
      const res = await httpc.requestJson<TavilyResponse>(opts.endpoint ?? TAVILY_SEARCH_URL, {
        query: args.query,
        max_results: args.max_results,
        search_depth: args.search_depth,
        include_answer: true,
      }, {
        headers: { authorization: `Bearer ${opts.apiKey}` },
        timeout: opts.timeout ?? 30_000,
        caCerts: opts.caCerts,
      });
      if (res.status !== 200) {
        const detail = res.data?.detail;
        const why = typeof detail === "string" ? detail : detail?.error ?? "";
        throw new Error(`search API answered HTTP ${res.status}${why ? `: ${why}` : ""}`);
      }
      const results = (res.data?.results ?? []).map((r) => ({
        title: r.title ?? "",
        url: r.url ?? "",
        content: r.content ?? "",
      }));
      const lines = results.map((r, i) => `${i + 1}. ${r.title}\n   ${r.url}\n   ${r.content}`);
      const answer = res.data?.answer;
      const text = [answer ? `Answer: ${answer}` : "", ...lines].filter(Boolean).join("\n\n");
      return textResult(text || `No results for "${args.query}".`, {
        answer: answer ?? null,
        results,
      });
    },
  };
}

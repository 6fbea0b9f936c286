/**
 * The `http_fetch` MCP tool: fetches a URL through lunet/httpc and returns
 * the status, content type and (text) body, cut to a size the model can
 * read. Time and size limits are the client's: the request is aborted when
 * it runs too long or the body grows past the cap, and when the client
 * cancels the call.
 *
 * @example
 * ```ts ignore
 * import { httpFetchTool } from "./http_fetch.ts";
 * const tool = httpFetchTool({ timeout: 5000 });
 * console.log(await tool.call({ url: "http://127.0.0.1:8080/", maxChars: 2000 }));
 * ```
 * @module
 */
import * as httpc from "../../../src/httpc.ts";
import { textResult, type Tool } from "../registry.ts";

/** Limits of {@linkcode httpFetchTool}. */
export interface HttpFetchOptions {
  /** Budget per fetch, ms (default 15 000). */
  timeout?: number;
  /** Largest body fetched, bytes (default 1 MiB). */
  maxBodyBytes?: number;
}

/** The `http_fetch` tool. */
export function httpFetchTool(opts: HttpFetchOptions = {}): Tool {
  return {
    name: "http_fetch",
    title: "Fetch a URL",
    description:
      "Fetches an http(s) URL with GET or HEAD and returns the status, content type and text body.",
    annotations: { readOnlyHint: true, openWorldHint: true },
    inputSchema: {
      type: "object",
      properties: {
        url: {
          type: "string",
          minLength: 1,
          maxLength: 2048,
          description: "http:// or https:// URL",
        },
        method: { type: "string", enum: ["GET", "HEAD"], default: "GET" },
        maxChars: { type: "integer", minimum: 1, maximum: 100_000, default: 20_000 },
      },
      required: ["url"],
      additionalProperties: false,
    },
    async call(args) {
      const res = await httpc.request({
        url: args.url as string,
        method: args.method as string,
        headers: {
          "user-agent": "lunet-mcp-sse",
          accept: "text/*, application/json;q=0.9, */*;q=0.5",
        },
        timeout: opts.timeout ?? 15_000,
        maxBodyBytes: opts.maxBodyBytes ?? 1024 * 1024,
      });
      const type = res.headers.get("content-type") ?? "";
      const max = args.maxChars as number;
      const text = isText(type)
        ? res.text()
        : `(${res.body.byteLength} bytes of ${type || "binary data"})`;
      const cut = text.length > max
        ? `${text.slice(0, max)}\n… (${text.length - max} more characters)`
        : text;
      return textResult(`HTTP ${res.status} ${res.url}\ncontent-type: ${type}\n\n${cut}`, {
        status: res.status,
        url: res.url,
        contentType: type,
        bytes: res.body.byteLength,
      });
    },
  };
}

function isText(type: string): boolean {
  return type === "" || /^text\/|json|xml|javascript|x-www-form-urlencoded/i.test(type);
}

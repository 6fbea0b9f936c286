/**
 * The `http_fetch` MCP tool: fetches a URL through lunet/httpc and returns
 * the status, content type and (text) body, cut to `maxChars` characters.
 * The body is streamed and only what is kept is read: a large page is cut,
 * not refused, and the connection is dropped past the cut. The request is
 * aborted when it runs too long and when the client cancels the call.
 * lunet/httpc is loaded on the first call, so a server that never fetches
 * does not hold it.
 *
 * @example
 * ```ts ignore
 * import { httpFetchTool } from "./http_fetch.ts";
 * const tool = httpFetchTool({ timeout: 5000 });
 * console.log(await tool.call({ url: "http://127.0.0.1:8080/", maxChars: 2000 }));
 * ```
 * @module
 */
import { textResult, type Tool } from "../registry.ts";

/** Limits of {@linkcode httpFetchTool}. */
export interface HttpFetchOptions {
  /** Budget per fetch, ms (default 15 000). */
  timeout?: number;
  /** Most body bytes read, even when `maxChars` is not reached yet (default 1 MiB). */
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
    outputSchema: {
      type: "object",
      properties: {
        status: { type: "integer" },
        url: { type: "string" },
        contentType: { type: "string" },
        bytes: { type: "integer", description: "Body bytes read" },
      },
      required: ["status", "url", "contentType", "bytes"],
    },
    async call(args) {
      const deadline = Date.now() + (opts.timeout ?? 15_000);
      const maxBytes = opts.maxBodyBytes ?? 1024 * 1024;
      const max = args.maxChars as number;
      // lunet/httpc, and the node:http/https modules under it, load with the first call.
      const httpc = await import("../../../src/httpc.ts");
      const res = await httpc.stream({
        url: args.url as string,
        method: args.method as string,
        headers: {
          "user-agent": "lunet-mcp-sse",
          accept: "text/*, application/json;q=0.9, */*;q=0.5",
        },
        deadline,
      });
      try {
        const type = res.headers.get("content-type") ?? "";
        const length = res.headers.get("content-length");
        let body: string, bytes = 0;
        if (!isText(type)) {
          body = `(${length ?? "unknown number of"} bytes of ${
            type || "binary data"
          }, not fetched)`;
        } else {
          // Read only as much as is kept: at most maxChars characters and maxBodyBytes bytes.
          const decoder = new TextDecoder();
          let text = "", ended = false;
          for (;;) {
            const chunk = await res.read({ deadline });
            if (chunk === null) {
              text += decoder.decode();
              ended = true;
              break;
            }
            bytes += chunk.byteLength;
            text += decoder.decode(chunk, { stream: true });
            if (text.length > max || bytes >= maxBytes) break;
          }
          body = text.length <= max && ended
            ? text
            : `${text.slice(0, max)}\n… (${
              ended
                ? `${text.length - max} more characters`
                : `cut at ${Math.min(max, text.length)} characters${
                  length ? ` of ${length} bytes` : ""
                }`
            })`;
        }
        return textResult(`HTTP ${res.status} ${res.url}\ncontent-type: ${type}\n\n${body}`, {
          status: res.status,
          url: res.url,
          contentType: type,
          bytes,
        });
      } finally {
        res.close();
      }
    },
  };
}

function isText(type: string): boolean {
  return type === "" || /^text\/|json|xml|javascript|x-www-form-urlencoded/i.test(type);
}

/**
 * An MCP session opened over Streamable HTTP with plain `fetch` (no SDK),
 * as the load scripts drive the example server: `initialize`, then
 * `notifications/initialized`; returns the headers every later request of
 * the session carries.
 */

/** The headers of every request: JSON in, JSON or an event stream back. */
export const MCP_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

/** Opens a session at `url` as client `name`; the headers of its requests. */
export async function openSession(url: string, name: string): Promise<Record<string, string>> {
  const init = await fetch(url, {
    method: "POST",
    headers: MCP_HEADERS,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name, version: "1" },
      },
    }),
  });
  await init.text();
  const headers = {
    ...MCP_HEADERS,
    "mcp-session-id": init.headers.get("mcp-session-id")!,
    "mcp-protocol-version": "2025-11-25",
  };
  await (await fetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  })).text();
  return headers;
}

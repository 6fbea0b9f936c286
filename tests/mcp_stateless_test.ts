/**
 * The stateless revision (2026-07-28) of the MCP server, over raw HTTP:
 * `server/discover`, per-request `_meta`, the header checks
 * (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`), `resultType` and
 * caching hints, removed methods, multi round-trip requests (an
 * `input_required` result, the retry with the answers, on another
 * instance too), `subscriptions/listen`, streamed progress and logs, and
 * cancellation by closing the stream — beside a session of an older
 * revision on the same endpoint.
 */
import assert from "node:assert/strict";
import * as sqlite from "../drivers/sqlite.ts";
import { createCatalog } from "../examples/mcp_sse/catalog.ts";
import { startMcpServer } from "../examples/mcp_sse/server.ts";
import { collect, events, rawSession, type SseEvent, waitFor, withMcp } from "./mcp_helpers.ts";
import { noLeaks } from "./leak.ts";

const VERSION = "2026-07-28";
const SERVER_INFO = "io.modelcontextprotocol/serverInfo";
const SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId";

type Json = Record<string, any>;

/** The `_meta` of a stateless request. */
function meta(extra: Json = {}, capabilities: Json = {}): Json {
  return {
    "io.modelcontextprotocol/protocolVersion": VERSION,
    "io.modelcontextprotocol/clientCapabilities": capabilities,
    "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
    ...extra,
  };
}

/** A request body with `_meta` in its params. */
function request(id: number, method: string, params: Json = {}, m: Json = meta()): Json {
  return { jsonrpc: "2.0", id, method, params: { ...params, _meta: m } };
}

/** The headers a conforming client sends with `body`. */
function headersFor(body: Json): Record<string, string> {
  const h: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": VERSION,
    "mcp-method": body.method,
  };
  const name = body.params?.name ?? body.params?.uri;
  if (["tools/call", "prompts/get", "resources/read"].includes(body.method)) h["mcp-name"] = name;
  return h;
}

/** POSTs `body` with the right headers, `override` replacing or (`null`) removing some. */
function post(
  url: string,
  body: Json | string,
  override: Record<string, string | null> = {},
  signal?: AbortSignal,
): Promise<Response> {
  const headers: Record<string, string> = typeof body === "string"
    ? { "content-type": "application/json", "mcp-protocol-version": VERSION }
    : headersFor(body);
  for (const [k, v] of Object.entries(override)) {
    if (v === null) delete headers[k];
    else headers[k] = v;
  }
  return fetch(url, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal,
  });
}

async function rpc(url: string, body: Json, override: Record<string, string | null> = {}) {
  const res = await post(url, body, override);
  return { status: res.status, headers: res.headers, body: await res.json() as Json };
}

const call = (id: number, name: string, args: Json = {}, m?: Json, extra: Json = {}) =>
  request(id, "tools/call", { name, arguments: args, ...extra }, m);

Deno.test(
  "MCP stateless revision: discovery, results, headers",
  noLeaks(async (t) => {
    await withMcp(async ({ url, catalog }) => {
      await t.step("server/discover: versions, capabilities, identity, caching", async () => {
        const { status, headers, body } = await rpc(url, request(1, "server/discover"));
        assert.equal(status, 200);
        assert.match(headers.get("content-type")!, /application\/json/);
        assert.equal(headers.get("mcp-session-id"), null, "no session");
        assert.equal(body.id, 1);
        const r = body.result;
        assert.equal(r.resultType, "complete");
        assert.deepEqual(r.supportedVersions, [
          "2026-07-28",
          "2025-11-25",
          "2025-06-18",
          "2025-03-26",
          "2024-11-05",
        ]);
        assert.deepEqual(r.capabilities.tools, { listChanged: true });
        assert.deepEqual(r.capabilities.resources, { subscribe: true, listChanged: true });
        assert.ok(r.capabilities.completions);
        assert.equal(r._meta[SERVER_INFO].name, "lunet-mcp-sse");
        assert.ok(Array.isArray(r._meta[SERVER_INFO].icons));
        assert.equal(r.ttlMs, 600_000);
        assert.equal(r.cacheScope, "public");
      });

      await t.step("list results carry resultType, identity and caching hints", async () => {
        const tools = (await rpc(url, request(2, "tools/list"))).body.result;
        assert.equal(tools.resultType, "complete");
        assert.equal(tools.ttlMs, 60_000);
        assert.equal(tools.cacheScope, "public");
        assert.deepEqual(tools._meta[SERVER_INFO], {
          name: "lunet-mcp-sse",
          version: "0.2.0",
          title: "lunet MCP server",
        });
        assert.deepEqual(
          tools.tools.map((x: Json) => x.name).slice(0, 3),
          catalog.tools.names.slice(0, 3),
          "in a stable order",
        );
        assert.ok(tools.tools.find((x: Json) => x.name === "notes_add").outputSchema);
        for (
          const [method, ttl, scope] of [
            ["prompts/list", 60_000, "public"],
            ["resources/templates/list", 60_000, "public"],
            ["resources/list", 0, "private"],
          ] as const
        ) {
          const r = (await rpc(url, request(3, method))).body.result;
          assert.equal(r.resultType, "complete", method);
          assert.equal(r.ttlMs, ttl, method);
          assert.equal(r.cacheScope, scope, method);
        }
      });

      await t.step("tools/call, resources/read, prompts/get, completion/complete", async () => {
        const added = (await rpc(url, call(4, "notes_add", { title: "stateless", body: "b" })))
          .body.result;
        assert.equal(added.resultType, "complete");
        assert.equal(typeof added.structuredContent.id, "number");
        assert.equal(added._meta[SERVER_INFO].name, "lunet-mcp-sse");
        const uri = `note://${added.structuredContent.id}`;
        const read = (await rpc(url, request(5, "resources/read", { uri }))).body.result;
        assert.equal(read.resultType, "complete");
        assert.equal(read.ttlMs, 0);
        assert.equal(read.cacheScope, "private");
        assert.match(read.contents[0].text, /stateless/);
        const missing = await rpc(url, request(6, "resources/read", { uri: "note://999999" }));
        assert.equal(missing.status, 200);
        assert.equal(missing.body.error.code, -32602, "resource not found is invalid params");
        const prompt = (await rpc(
          url,
          request(7, "prompts/get", {
            name: "review_note",
            arguments: { id: String(added.structuredContent.id) },
          }),
        )).body.result;
        assert.equal(prompt.resultType, "complete");
        assert.ok(prompt.messages.length > 0);
        const done = (await rpc(
          url,
          request(8, "completion/complete", {
            ref: { type: "ref/prompt", name: "review_note" },
            argument: { name: "id", value: "" },
          }),
        )).body.result;
        assert.equal(done.resultType, "complete");
        assert.ok(Array.isArray(done.completion.values));
      });

      await t.step("MCP-Protocol-Version must be present and match _meta", async () => {
        const body = request(9, "tools/list");
        for (const header of [null, "2025-11-25"]) {
          const r = await rpc(url, body, { "mcp-protocol-version": header });
          assert.equal(r.status, 400, String(header));
          assert.equal(r.body.error.code, -32020, String(header));
          assert.equal(r.body.id, 9);
          assert.match(r.body.error.message, /^Header mismatch: MCP-Protocol-Version/);
        }
        const other = await rpc(
          url,
          request(10, "tools/list", {}, {
            ...meta(),
            "io.modelcontextprotocol/protocolVersion": "2025-11-25",
          }),
        );
        assert.equal(other.status, 400);
        assert.equal(other.body.error.code, -32020);
        assert.equal(
          other.body.error.message,
          "Header mismatch: MCP-Protocol-Version header value '2026-07-28' does not match body value '2025-11-25'",
        );
      });

      await t.step("Mcp-Method and Mcp-Name must be present and match the body", async () => {
        const body = call(11, "notes_list", {});
        for (
          const [override, message] of [
            [{ "mcp-method": null }, "Header mismatch: Mcp-Method header required"],
            [
              { "mcp-method": "tools/list" },
              "Header mismatch: Mcp-Method header value 'tools/list' does not match body value 'tools/call'",
            ],
            [{ "mcp-name": null }, "Header mismatch: Mcp-Name header required"],
            [
              { "mcp-name": "notes_add" },
              "Header mismatch: Mcp-Name header value 'notes_add' does not match body value 'notes_list'",
            ],
          ] as const
        ) {
          const r = await rpc(url, body, override);
          assert.equal(r.status, 400, message);
          assert.deepEqual(r.body, { jsonrpc: "2.0", id: 11, error: { code: -32020, message } });
        }
        const encoded = await rpc(url, body, { "mcp-name": `=?base64?${btoa("notes_list")}?=` });
        assert.equal(encoded.status, 200, "a base64 sentinel is decoded");
        assert.equal(encoded.body.result.resultType, "complete");
        const read = await rpc(url, request(12, "resources/read", { uri: "note://1" }), {
          "mcp-name": "note://2",
        });
        assert.equal(read.body.error.code, -32020, "Mcp-Name names the resource URI");
      });

      await t.step("a missing _meta field is invalid params (400)", async () => {
        for (
          const m of [
            undefined,
            { "io.modelcontextprotocol/protocolVersion": VERSION },
            { ...meta(), "io.modelcontextprotocol/logLevel": "loud" },
          ]
        ) {
          const body = { jsonrpc: "2.0", id: 13, method: "tools/list", params: { _meta: m } };
          const r = await rpc(url, body);
          assert.equal(r.status, 400);
          assert.equal(r.body.error.code, -32602);
        }
      });

      await t.step("an unsupported version gets 400 with the versions supported", async () => {
        const v = "1900-01-01";
        const body = request(14, "tools/list", {}, {
          ...meta(),
          "io.modelcontextprotocol/protocolVersion": v,
        });
        const r = await rpc(url, body, { "mcp-protocol-version": v });
        assert.equal(r.status, 400);
        assert.equal(r.body.error.code, -32022);
        assert.equal(r.body.error.message, "Unsupported protocol version");
        assert.equal(r.body.error.data.requested, v);
        assert.ok(r.body.error.data.supported.includes(VERSION));
      });

      await t.step("methods the revision removed or never had: 404 method not found", async () => {
        for (const method of ["ping", "logging/setLevel", "resources/subscribe", "nope/nope"]) {
          const r = await rpc(url, request(15, method, { uri: "note://1", level: "info" }));
          assert.equal(r.status, 404, method);
          assert.equal(r.body.error.code, -32601, method);
        }
      });

      await t.step("batches, responses, notifications; GET and DELETE", async () => {
        const batch = await post(url, JSON.stringify([request(16, "tools/list")]));
        assert.equal(batch.status, 400);
        assert.equal((await batch.json()).error.code, -32600);
        const response = await post(url, JSON.stringify({ jsonrpc: "2.0", id: 1, result: {} }), {
          "mcp-method": "x",
        });
        assert.equal(response.status, 400, "a client sends no responses");
        await response.body?.cancel();
        const note = await post(
          url,
          JSON.stringify({
            jsonrpc: "2.0",
            method: "notifications/cancelled",
            params: { requestId: 1 },
          }),
        );
        assert.equal(note.status, 202);
        await note.body?.cancel();
        for (const method of ["GET", "DELETE"]) {
          const res = await fetch(url, {
            method,
            headers: { accept: "text/event-stream", "mcp-protocol-version": VERSION },
          });
          assert.equal(res.status, 405, method);
          assert.equal(res.headers.get("allow"), "POST");
          await res.body?.cancel();
        }
      });

      await t.step(
        "Mcp-Session-Id is ignored, and a session of 2025-11-25 works beside",
        async () => {
          const r = await rpc(url, request(17, "tools/list"), { "mcp-session-id": "no-such" });
          assert.equal(r.status, 200);
          assert.equal(r.headers.get("mcp-session-id"), null);
          const s = await rawSession(url, "2025-11-25");
          const legacy = await s.post({ jsonrpc: "2.0", id: 1, method: "tools/list" });
          const result = (await legacy.json()).result;
          assert.equal(result.resultType, undefined, "older revisions keep their shapes");
          assert.equal(result.ttlMs, undefined);
          const del = await fetch(url, { method: "DELETE", headers: { "mcp-session-id": s.id } });
          assert.equal(del.status, 204);
        },
      );
    });
  }),
);

Deno.test(
  "MCP stateless revision: multi round-trip requests",
  noLeaks(async (t) => {
    await withMcp(async ({ url, catalog }) => {
      const elicit = meta({}, { elicitation: {} });

      await t.step("notes_delete asks the user in an input_required result", async () => {
        const id = await catalog.notes.add("keep?", "body", "");
        const first = await rpc(url, call(1, "notes_delete", { id }, elicit));
        assert.equal(first.status, 200);
        const r = first.body.result;
        assert.equal(r.resultType, "input_required");
        assert.deepEqual(Object.keys(r.inputRequests), ["elicitation-1"]);
        const q = r.inputRequests["elicitation-1"];
        assert.equal(q.method, "elicitation/create");
        assert.equal(q.params.mode, "form");
        assert.equal(q.params.message, `Delete note #${id} "keep?"?`);
        assert.equal(q.params.requestedSchema.properties.confirm.type, "boolean");
        assert.equal(typeof r.requestState, "string");
        assert.equal(r.ttlMs, undefined, "an interim result has no caching hints");
        assert.ok(await catalog.notes.get(id), "nothing deleted yet");

        const declined = await rpc(
          url,
          call(2, "notes_delete", { id }, elicit, {
            inputResponses: { "elicitation-1": { action: "decline" } },
            requestState: r.requestState,
          }),
        );
        assert.equal(declined.body.result.resultType, "complete");
        assert.equal(declined.body.result.isError, true);
        assert.ok(await catalog.notes.get(id), "kept");

        const accepted = await rpc(
          url,
          call(3, "notes_delete", { id }, elicit, {
            inputResponses: { "elicitation-1": { action: "accept", content: { confirm: true } } },
            requestState: r.requestState,
          }),
        );
        assert.equal(accepted.body.result.resultType, "complete");
        assert.deepEqual(accepted.body.result.structuredContent, { id });
        assert.equal(await catalog.notes.get(id), undefined, "deleted");
      });

      await t.step("a requestState of another request, or tampered, is refused", async () => {
        const id = await catalog.notes.add("a", "b", "");
        const first = (await rpc(url, call(4, "notes_delete", { id }, elicit))).body.result;
        for (
          const [args, state] of [
            [{ id: id + 1000 }, first.requestState],
            [{ id }, first.requestState.slice(0, -3) + "xyz"],
            [{ id }, "not-a-state"],
          ]
        ) {
          const r = await rpc(
            url,
            call(5, "notes_delete", args, elicit, {
              inputResponses: { "elicitation-1": { action: "accept", content: { confirm: true } } },
              requestState: state,
            }),
          );
          assert.equal(r.body.error.code, -32602, JSON.stringify(args));
          assert.match(r.body.error.message, /^requestState: /);
        }
        assert.ok(await catalog.notes.get(id), "not deleted");
        const badAnswer = await rpc(
          url,
          call(6, "notes_delete", { id }, elicit, {
            inputResponses: { "elicitation-1": { action: "maybe" } },
            requestState: first.requestState,
          }),
        );
        assert.equal(badAnswer.body.error.code, -32602);
      });

      await t.step("questions in a row: earlier answers ride in the state", async () => {
        const caps = meta({}, { sampling: {}, elicitation: {} });
        const one = (await rpc(url, call(7, "ask_twice", {}, caps))).body.result;
        assert.deepEqual(Object.keys(one.inputRequests), ["elicitation-1"]);
        const two = (await rpc(
          url,
          call(8, "ask_twice", {}, caps, {
            inputResponses: { "elicitation-1": { action: "accept", content: { name: "Ada" } } },
            requestState: one.requestState,
          }),
        )).body.result;
        assert.equal(two.resultType, "input_required");
        assert.deepEqual(Object.keys(two.inputRequests), ["sampling-2"]);
        const q = two.inputRequests["sampling-2"];
        assert.equal(q.method, "sampling/createMessage");
        assert.deepEqual(q.params, {
          messages: [{ role: "user", content: { type: "text", text: "Greet Ada" } }],
          maxTokens: 20,
        });
        const answer = {
          "sampling-2": { role: "assistant", content: { type: "text", text: "Hi" }, model: "m" },
        };
        const three = (await rpc(
          url,
          call(9, "ask_twice", {}, caps, {
            inputResponses: answer,
            requestState: two.requestState,
          }),
        )).body.result;
        assert.equal(three.resultType, "complete");
        assert.equal(three.content[0].text, "Ada: Hi");
        const lost = (await rpc(url, call(10, "ask_twice", {}, caps, { inputResponses: answer })))
          .body.result;
        assert.deepEqual(
          Object.keys(lost.inputRequests),
          ["elicitation-1"],
          "without the state the first question is asked again",
        );
      });

      await t.step(
        "a tool that needs a capability not declared: 400 MissingRequiredClientCapability",
        async () => {
          const r = await rpc(url, call(9, "test_elicitation", { message: "hi" }));
          assert.equal(r.status, 400);
          assert.equal(r.body.error.code, -32021);
          assert.deepEqual(r.body.error.data, { requiredCapabilities: { elicitation: {} } });
          const id = await catalog.notes.add("no asking", "b", "");
          const quiet = await rpc(url, call(10, "notes_delete", { id }));
          assert.equal(quiet.body.result.resultType, "complete", "optional questions are skipped");
          assert.equal(await catalog.notes.get(id), undefined);
        },
      );

      await t.step("URL elicitation has no elicitationId in 2026-07-28", async () => {
        const caps = meta({}, { elicitation: { url: {} } });
        const r = (await rpc(url, call(11, "url_elicit", {}, caps))).body.result;
        const q = r.inputRequests["elicitation-1"];
        assert.deepEqual(q.params, {
          mode: "url",
          message: "Sign in",
          url: "https://example.com/sign-in",
        });
        const done = (await rpc(
          url,
          call(12, "url_elicit", {}, caps, {
            inputResponses: { "elicitation-1": { action: "accept" } },
            requestState: r.requestState,
          }),
        )).body.result;
        assert.equal(done.content[0].text, "action=accept");
      });
    });

    await t.step("the retry is answered by another instance sharing the secret", async () => {
      const db = await sqlite.open(":memory:");
      const catalog = await createCatalog({ db });
      const a = await startMcpServer({ port: 0, ...catalog, stateSecret: "shared" });
      const b = await startMcpServer({ port: 0, ...catalog, stateSecret: "shared" });
      const c = await startMcpServer({ port: 0, ...catalog, stateSecret: "other" });
      const caps = meta({}, { elicitation: {} });
      try {
        const id = await catalog.notes.add("twice", "b", "");
        const first =
          (await rpc(`http://127.0.0.1:${a.port}/mcp`, call(1, "notes_delete", { id }, caps)))
            .body.result;
        assert.match(first.requestState, /\./, "signed");
        const retry = call(2, "notes_delete", { id }, caps, {
          inputResponses: { "elicitation-1": { action: "accept", content: { confirm: true } } },
          requestState: first.requestState,
        });
        const wrong = await rpc(`http://127.0.0.1:${c.port}/mcp`, retry);
        assert.equal(wrong.body.error.message, "requestState: bad signature");
        const done = await rpc(`http://127.0.0.1:${b.port}/mcp`, retry);
        assert.deepEqual(done.body.result.structuredContent, { id });
      } finally {
        await a.close();
        await b.close();
        await c.close();
        await db.close();
      }
    });
  }),
);

Deno.test(
  "MCP stateless revision: streams",
  noLeaks(async (t) => {
    await withMcp(async ({ url, catalog, probe, server }) => {
      await t.step(
        "progress and log entries go on the request's stream before the reply",
        async () => {
          const body = call(
            1,
            "test_tool_with_logging",
            {},
            meta({
              "io.modelcontextprotocol/logLevel": "info",
            }),
          );
          const res = await post(url, body);
          assert.match(res.headers.get("content-type")!, /text\/event-stream/);
          assert.equal(res.headers.get("x-accel-buffering"), "no");
          assert.equal(res.headers.get("content-encoding"), null, "event streams go uncompressed");
          const all = (await collect(res)).map((e) => JSON.parse(e.data));
          assert.deepEqual(all.slice(0, 3).map((m) => m.params.data), [
            "Tool execution started",
            "Tool processing data",
            "Tool execution completed",
          ]);
          assert.equal(all[3].id, 1);
          assert.equal(all[3].result.resultType, "complete");
          assert.ok(
            (await collect(await post(url, body))).every((e) => e.id === undefined),
            "no event ids",
          );

          const quiet = await post(url, call(2, "test_tool_with_logging"));
          assert.match(
            quiet.headers.get("content-type")!,
            /application\/json/,
            "no logLevel: no logs",
          );
          assert.equal((await quiet.json()).result.resultType, "complete");

          const progress = await post(
            url,
            call(3, "test_tool_with_progress", {}, meta({ progressToken: "p" })),
          );
          const seen = (await collect(progress)).map((e) => JSON.parse(e.data));
          assert.deepEqual(seen.slice(0, 3).map((m) => m.params.progress), [0, 50, 100]);
          assert.equal(seen[0].params.progressToken, "p");
          assert.equal(seen[3].result.content[0].text, "Progress reported");
        },
      );

      await t.step("a burst of list changes is told once, and once more after it", async () => {
        const live = new AbortController();
        const res = await post(
          url,
          request(6, "subscriptions/listen", { notifications: { resourcesListChanged: true } }),
          {},
          live.signal,
        );
        const seen: Json[] = [];
        const reader = (async () => {
          for await (const ev of events(res) as AsyncGenerator<SseEvent>) {
            seen.push(JSON.parse(ev.data));
          }
        })();
        await waitFor(() => seen.length === 1);
        for (let i = 0; i < 10; i++) await catalog.notes.add(`burst ${i}`, "b", "");
        await waitFor(() => seen.length === 3);
        await new Promise((r) => setTimeout(r, 120));
        assert.equal(seen.length, 3, "ten changes, two notifications");
        assert.ok(seen.slice(1).every((m) => m.method === "notifications/resources/list_changed"));
        live.abort();
        await reader.catch(() => {});
      });

      await t.step("closing the stream cancels the call", async () => {
        const cancelled = probe.cancelled, started = probe.started;
        const live = new AbortController();
        const res = await post(
          url,
          call(4, "sleepy", {}, meta({ progressToken: 1 })),
          {},
          live.signal,
        );
        await waitFor(() => probe.started > started);
        live.abort();
        await res.body?.cancel().catch(() => {});
        await waitFor(() => probe.cancelled === cancelled + 1);
      });

      await t.step(
        "subscriptions/listen: acknowledged, filtered, tagged, ended on shutdown",
        async () => {
          const id = await catalog.notes.add("watched", "b", "");
          const listen = request(5, "subscriptions/listen", {
            notifications: {
              toolsListChanged: true,
              resourceSubscriptions: [`note://${id}`, "nowhere://x"],
            },
          });
          const json = await post(url, listen, { accept: "application/json" });
          assert.equal(json.status, 406, "a listen stream needs text/event-stream");
          await json.body?.cancel();
          const res = await post(url, listen);
          assert.equal(res.status, 200);
          const seen: Json[] = [];
          const reader = (async () => {
            for await (const ev of events(res) as AsyncGenerator<SseEvent>) {
              seen.push(JSON.parse(ev.data));
            }
          })();
          await waitFor(() => seen.length === 1);
          assert.deepEqual(seen[0], {
            jsonrpc: "2.0",
            method: "notifications/subscriptions/acknowledged",
            params: {
              _meta: { [SUBSCRIPTION_ID]: 5 },
              notifications: { toolsListChanged: true, resourceSubscriptions: [`note://${id}`] },
            },
          });
          catalog.tools.remove("test_simple_text");
          await catalog.notes.update(id, { body: "changed" });
          await catalog.notes.add("more", "b", ""); // resources/list_changed: not asked for
          await waitFor(() => seen.length === 3);
          assert.deepEqual(seen.slice(1), [
            {
              jsonrpc: "2.0",
              method: "notifications/tools/list_changed",
              params: { _meta: { [SUBSCRIPTION_ID]: 5 } },
            },
            {
              jsonrpc: "2.0",
              method: "notifications/resources/updated",
              params: { _meta: { [SUBSCRIPTION_ID]: 5 }, uri: `note://${id}` },
            },
          ]);
          const started = probe.started, cancelled = probe.cancelled;
          const running = post(url, call(6, "sleepy"));
          await waitFor(() => probe.started > started);
          await server.close();
          await reader;
          const stopped = await running;
          assert.equal(stopped.status, 204, "a call stopped by shutdown gets no reply");
          assert.equal(await stopped.text(), "");
          assert.equal(probe.cancelled, cancelled + 1);
          assert.equal(seen.length, 4);
          assert.deepEqual(seen[3], {
            jsonrpc: "2.0",
            id: 5,
            result: {
              resultType: "complete",
              _meta: {
                [SUBSCRIPTION_ID]: 5,
                [SERVER_INFO]: { name: "lunet-mcp-sse", version: "0.2.0" },
              },
            },
          });
        },
      );
    });
  }),
);

/**
 * The stateless revision (2026-07-28) of the MCP server, over raw HTTP:
 * `server/discover`, per-request `_meta`, the header checks
 * (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`), `resultType` and
 * caching hints, removed methods, batches, notifications, `GET` and
 * `DELETE` — beside a session of an older revision on the same endpoint.
 * Multi round-trip requests and streams: `mcp_stateless_rounds_test.ts`.
 */
import assert from "node:assert/strict";
import {
  type Json,
  meta,
  rawSession,
  SERVER_INFO,
  STATELESS as VERSION,
  statelessCall as call,
  statelessPost as post,
  statelessRequest as request,
  statelessRpc as rpc,
  withMcp,
} from "./mcp_helpers.ts";
import { noLeaks } from "./leak.ts";

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

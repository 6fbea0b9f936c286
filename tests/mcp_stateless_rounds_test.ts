/**
 * The stateless revision (2026-07-28) of the MCP server, over raw HTTP:
 * multi round-trip requests (an `input_required` result, the retry with
 * the answers, on another instance too), the capability a tool needs,
 * streamed progress and logs, cancellation by closing the stream or by
 * shutdown, `subscriptions/listen`, and coalesced list changes.
 */
import assert from "node:assert/strict";
import * as sqlite from "../drivers/sqlite.ts";
import { createCatalog } from "../examples/mcp_sse/catalog.ts";
import { startMcpServer } from "../examples/mcp_sse/server.ts";
import {
  collect,
  events,
  type Json,
  meta,
  SERVER_INFO,
  type SseEvent,
  statelessCall as call,
  statelessPost as post,
  statelessRequest as request,
  statelessRpc as rpc,
  SUBSCRIPTION_ID,
  waitFor,
  withMcp,
} from "./mcp_helpers.ts";
import { noLeaks } from "./leak.ts";

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
        for (let i = 0; i < 10; i++) catalog.resources.changed(); // ten changes at once
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

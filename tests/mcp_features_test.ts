// deno-lint-ignore-file no-import-prefix -- the MCP SDK is a test-only package, kept out of the import map
/**
 * MCP capabilities through the official SDK client: resources (list,
 * templates, read text and binary, subscriptions), prompts, completion,
 * logging levels, progress, sampling, elicitation (form and URL), roots,
 * list changes; cancellation without a reply, a disconnect cancelling its
 * call (JSON and SSE), a call made while an elicitation is pending, and
 * 50 concurrent clients.
 */
import assert from "node:assert/strict";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from "npm:@modelcontextprotocol/sdk@^1.29/types.js";
import { collect, rawSession, sdkClient, waitFor, withMcp } from "./mcp_helpers.ts";
import { noLeaks } from "./leak.ts";

type Blocks = { type: string; text?: string }[];
const textOf = (r: { content?: unknown }) =>
  (r.content as Blocks).map((c) => c.text ?? "").join("\n");

Deno.test(
  "MCP resources, prompts, completion",
  noLeaks(async (t) => {
    await withMcp(async ({ url, catalog }) => {
      const id = await catalog.notes.add("Groceries", "milk", "home,list");
      const { client, close } = await sdkClient(url);
      try {
        await t.step("resources/list, templates and read (text and binary)", async () => {
          const { resources } = await client.listResources();
          assert.ok(resources.some((r: { uri: string }) => r.uri === `note://${id}`));
          const { resourceTemplates } = await client.listResourceTemplates();
          assert.ok(
            resourceTemplates.some((r: { uriTemplate: string }) => r.uriTemplate === "note://{id}"),
          );
          const note = await client.readResource({ uri: `note://${id}` });
          assert.match(note.contents[0].text as string, /^# Groceries\n\nmilk/);
          const gz = await client.readResource({ uri: "notes://export.json.gz" });
          const bytes = Uint8Array.from(
            atob(gz.contents[0].blob as string),
            (c) => c.charCodeAt(0),
          );
          const json = await new Response(
            new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip")),
          ).json();
          assert.equal(json[0].title, "Groceries");
          await assert.rejects(client.readResource({ uri: "note://999" }), /Resource not found/);
        });

        await t.step("subscriptions: resources/updated for the subscribed note only", async () => {
          const updates: string[] = [];
          client.setNotificationHandler(
            ResourceUpdatedNotificationSchema,
            (n: { params: { uri: string } }) => {
              updates.push(n.params.uri);
            },
          );
          await client.subscribeResource({ uri: `note://${id}` });
          const other = await catalog.notes.add("Other", "x", "");
          await catalog.notes.update(other, { body: "y" });
          await catalog.notes.update(id, { body: "oat milk" });
          await waitFor(() => updates.length > 0);
          assert.deepEqual(updates, [`note://${id}`]);
          await client.unsubscribeResource({ uri: `note://${id}` });
        });

        await t.step("prompts with arguments and embedded resources; completion", async () => {
          const { prompts } = await client.listPrompts();
          assert.ok(prompts.some((p: { name: string }) => p.name === "review_note"));
          const review = await client.getPrompt({
            name: "review_note",
            arguments: { id: String(id) },
          });
          assert.equal(review.messages[0].content.type, "resource");
          await assert.rejects(
            client.getPrompt({ name: "review_note", arguments: {} }),
            /Missing arguments/,
          );
          const tags = await client.complete({
            ref: { type: "ref/prompt", name: "summarize_tag" },
            argument: { name: "tag", value: "h" },
          });
          assert.deepEqual(tags.completion.values, ["home"]);
          const ids = await client.complete({
            ref: { type: "ref/resource", uri: "note://{id}" },
            argument: { name: "id", value: String(id) },
          });
          assert.ok(ids.completion.values.includes(String(id)));
        });
      } finally {
        await close();
      }
    });
  }),
);

Deno.test(
  "MCP logging, progress, sampling, elicitation, roots, list changes",
  noLeaks(async (t) => {
    await withMcp(async ({ url, catalog }) => {
      const { client, close } = await sdkClient(url, {
        sampling: {},
        elicitation: { form: {}, url: {} },
        roots: { listChanged: true },
      });
      try {
        await t.step("logging/setLevel filters notifications/message", async () => {
          const logs: string[] = [];
          client.setNotificationHandler(
            LoggingMessageNotificationSchema,
            (n: { params: { data: string } }) => {
              logs.push(n.params.data);
            },
          );
          await client.setLoggingLevel("warning");
          await client.callTool({ name: "test_tool_with_logging", arguments: {} });
          assert.deepEqual(logs, []);
          await client.setLoggingLevel("debug");
          await client.callTool({ name: "test_tool_with_logging", arguments: {} });
          assert.equal(logs.length, 3);
        });

        await t.step("progress notifications for a progressToken", async () => {
          const seen: number[] = [];
          await client.callTool({ name: "test_tool_with_progress", arguments: {} }, undefined, {
            onprogress: (p: { progress: number }) => seen.push(p.progress),
          });
          assert.deepEqual(seen, [0, 50, 100]);
        });

        await t.step("sampling, roots and URL elicitation reach the client", async () => {
          client.setRequestHandler(CreateMessageRequestSchema, () => ({
            model: "test",
            role: "assistant",
            content: { type: "text", text: "sampled" },
          }));
          client.setRequestHandler(
            ListRootsRequestSchema,
            () => ({ roots: [{ uri: "file:///work", name: "work" }] }),
          );
          let mode = "";
          client.setRequestHandler(ElicitRequestSchema, (r: { params: { mode?: string } }) => {
            mode = r.params.mode ?? "form";
            return { action: "accept" };
          });
          assert.equal(
            textOf(await client.callTool({ name: "test_sampling", arguments: { prompt: "hi" } })),
            "LLM response: sampled",
          );
          assert.equal(
            textOf(await client.callTool({ name: "roots_probe", arguments: {} })),
            "file:///work",
          );
          assert.equal(
            textOf(await client.callTool({ name: "url_elicit", arguments: {} })),
            "action=accept",
          );
          assert.equal(mode, "url");
        });

        await t.step("notes_delete asks the user; a call made meanwhile is answered", async () => {
          const id = await catalog.notes.add("doomed", "x", "");
          let release!: (v: unknown) => void;
          const asked = new Promise((r) => release = r);
          let prompted = false;
          client.setRequestHandler(ElicitRequestSchema, async () => {
            prompted = true;
            await asked;
            return { action: "accept", content: { confirm: true } };
          });
          const deleting = client.callTool({ name: "notes_delete", arguments: { id } });
          await waitFor(() => prompted);
          const listed = await client.callTool({ name: "notes_list", arguments: {} });
          assert.match(textOf(listed), /doomed/, "answered while the elicitation is pending");
          release(undefined);
          assert.equal(textOf(await deleting).split("\n")[0], `Deleted note #${id}.`);
          assert.equal(await catalog.notes.get(id), undefined);
        });

        await t.step("tools/list_changed when a tool is added", async () => {
          let changed = 0;
          client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
            changed++;
          });
          catalog.tools.add({
            name: "late",
            description: "added later",
            inputSchema: { type: "object", properties: {} },
            call: () => ({ content: [] }),
          });
          await waitFor(() => changed > 0);
          const { tools } = await client.listTools();
          assert.ok(tools.some((x: { name: string }) => x.name === "late"));
        });
      } finally {
        await close();
      }
      await t.step("without the capability the server does not ask", async () => {
        const plain = await sdkClient(url);
        try {
          const id = await catalog.notes.add("quiet", "x", "");
          const res = await plain.client.callTool({ name: "notes_delete", arguments: { id } });
          assert.equal(textOf(res).split("\n")[0], `Deleted note #${id}.`);
          const sampled = await plain.client.callTool({
            name: "test_sampling",
            arguments: { prompt: "x" },
          });
          assert.equal(sampled.isError, true);
          assert.match(textOf(sampled), /does not offer sampling/);
        } finally {
          await plain.close();
        }
      });
    });
  }),
);

Deno.test(
  "MCP cancellation",
  noLeaks(async (t) => {
    await withMcp(async ({ url, probe, server }) => {
      const sleepy = (id: number) => ({
        jsonrpc: "2.0",
        id,
        method: "tools/call",
        params: { name: "sleepy", arguments: {} },
      });

      await t.step("notifications/cancelled: the call stops and gets no reply", async () => {
        const s = await rawSession(url);
        const res = await s.post(sleepy(1));
        await waitFor(() => probe.started === 1);
        const note = await s.post({
          jsonrpc: "2.0",
          method: "notifications/cancelled",
          params: { requestId: 1 },
        });
        assert.equal(note.status, 202);
        await note.body?.cancel();
        const evs = await collect(res);
        assert.ok(evs.every((e) => !e.data.includes('"id":1')), JSON.stringify(evs));
        assert.equal(probe.cancelled, 1);
      });

      await t.step("DELETE of the session: the call stops and gets no reply", async () => {
        const s = await rawSession(url);
        const res = await s.post(sleepy(2));
        await waitFor(() => probe.started === 2);
        const del = await fetch(url, { method: "DELETE", headers: { "mcp-session-id": s.id } });
        assert.equal(del.status, 204);
        const evs = await collect(res);
        assert.ok(evs.every((e) => !e.data.includes('"id":2')));
        assert.equal(probe.cancelled, 2);
      });

      for (const accept of ["application/json", "application/json, text/event-stream"]) {
        await t.step(`a client that disconnects cancels its call (accept: ${accept})`, async () => {
          const s = await rawSession(url);
          const before = probe.started, cancelled = probe.cancelled;
          const res = await fetch(url, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              accept,
              "mcp-session-id": s.id,
              "mcp-protocol-version": s.version,
            },
            body: JSON.stringify(sleepy(3)),
          });
          await waitFor(() => probe.started === before + 1);
          await res.body!.cancel(); // drops the connection
          await waitFor(() => probe.cancelled === cancelled + 1);
        });
      }
      assert.equal([...server.sessions].reduce((n, s) => n + s.inflight.size, 0), 0);
    });
  }),
);

Deno.test(
  "MCP: 50 concurrent SDK clients",
  noLeaks(async () => {
    await withMcp(async ({ url, server }) => {
      const clients = await Promise.all(Array.from({ length: 50 }, () => sdkClient(url)));
      try {
        await Promise.all(clients.map(async ({ client }, i) => {
          for (let j = 0; j < 4; j++) {
            const res = await client.callTool({
              name: "notes_add",
              arguments: { title: `c${i}-${j}`, body: "x" },
            });
            assert.match(textOf(res), new RegExp(`: c${i}-${j}\\n`));
          }
        }));
        const all = await clients[0].client.callTool({
          name: "notes_list",
          arguments: { limit: 100 },
        });
        assert.equal((all.structuredContent as { notes: unknown[] }).notes.length, 100);
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
      await waitFor(() => server.sessions.size === 0);
    });
  }),
);

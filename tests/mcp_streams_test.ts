/**
 * The MCP server's HTTP rules and resumable streams, over raw HTTP:
 * DNS-rebinding checks, Accept, batches and protocol version headers per
 * revision, priming events, the standalone GET stream, resumption with
 * `Last-Event-ID` (server-closed and dropped streams), the bounded event
 * store, and `http_fetch` cutting a large page.
 */
import assert from "node:assert/strict";
import { MemoryEventStore } from "../examples/mcp_sse/event_store.ts";
import { collect, rawSession, waitFor, withMcp } from "./mcp_helpers.ts";
import { noLeaks } from "./leak.ts";

const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args },
});

Deno.test(
  "MCP HTTP rules",
  noLeaks(async (t) => {
    await withMcp(async ({ base, url }) => {
      await t.step("Host: evil.example.com is refused with 403 on every path", async () => {
        for (
          const [method, path] of [
            ["GET", "/"],
            ["POST", "/mcp"],
            ["GET", "/mcp"],
            ["GET", "/sse"],
            ["POST", "/message?sessionId=x"],
            ["DELETE", "/mcp"],
          ]
        ) {
          const conn = await Deno.connect({
            hostname: "127.0.0.1",
            port: Number(new URL(base).port),
          });
          await conn.write(new TextEncoder().encode(
            `${method} ${path} HTTP/1.1\r\nHost: evil.example.com\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
          ));
          const reply = new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
          assert.match(reply, /^HTTP\/1\.1 403 /, `${method} ${path}`);
        }
        const ok = await fetch(`${base}/`);
        assert.equal(ok.status, 200);
        await ok.body?.cancel();
      });

      await t.step("Accept that allows neither JSON nor SSE gets 406", async () => {
        const s = await rawSession(url);
        const post = await s.post({ jsonrpc: "2.0", id: 1, method: "ping" }, {
          accept: "text/html",
        });
        assert.equal(post.status, 406);
        await post.body?.cancel();
        const get = await s.get({ accept: "application/json" });
        assert.equal(get.status, 406);
        await get.body?.cancel();
        const star = await s.post({ jsonrpc: "2.0", id: 2, method: "ping" }, { accept: "*/*" });
        assert.equal(star.status, 200);
        await star.body?.cancel();
      });

      await t.step("batches: refused from 2025-06-18 on, answered on 2025-03-26", async () => {
        const batch = [{ jsonrpc: "2.0", id: 1, method: "ping" }, {
          jsonrpc: "2.0",
          id: 2,
          method: "ping",
        }];
        for (const version of ["2025-06-18", "2025-11-25"]) {
          const res = await (await rawSession(url, version)).post(batch);
          assert.equal(res.status, 400, version);
          assert.match((await res.json()).error.message, /has no batches/);
        }
        const old = await (await rawSession(url, "2025-03-26")).post(batch);
        assert.deepEqual((await old.json()).map((r: { id: number }) => r.id), [1, 2]);
      });

      await t.step("an MCP-Protocol-Version other than the negotiated one gets 400", async () => {
        const s = await rawSession(url, "2025-11-25");
        const other = await s.post({ jsonrpc: "2.0", id: 1, method: "ping" }, {
          "mcp-protocol-version": "2025-06-18",
        });
        assert.equal(other.status, 400);
        assert.match((await other.json()).error.message, /differs from the negotiated 2025-11-25/);
        const unknown = await s.post({ jsonrpc: "2.0", id: 2, method: "ping" }, {
          "mcp-protocol-version": "1999-01-01",
        });
        assert.equal(unknown.status, 400);
        await unknown.body?.cancel();
        // 2025-03-26 is what a client without the header is assumed to speak.
        const legacy = await s.post({ jsonrpc: "2.0", id: 3, method: "ping" }, {
          "mcp-protocol-version": "2025-03-26",
        });
        assert.equal(legacy.status, 200);
        await legacy.body?.cancel();
      });
    });
  }),
);

Deno.test(
  "MCP resumable streams",
  noLeaks(async (t) => {
    await withMcp(async ({ url, catalog }) => {
      await t.step(
        "2025-11-25 streams start with a priming event and retry; ids name the stream",
        async () => {
          const s = await rawSession(url, "2025-11-25");
          const res = await s.post(call(1, "test_tool_with_progress"), {});
          const evs = await collect(res);
          assert.equal(evs[0].data, "");
          assert.equal(evs[0].retry, 50);
          assert.match(evs[0].id!, /^(\d+)_\d+$/);
          const stream = evs[0].id!.split("_")[0];
          assert.ok(evs.every((e) => e.id?.startsWith(`${stream}_`)), JSON.stringify(evs));
          assert.equal(new Set(evs.map((e) => e.id)).size, evs.length, "ids are unique");
          assert.equal(JSON.parse(evs.at(-1)!.data).id, 1);
          const old = await (await rawSession(url, "2025-06-18")).post(call(2, "test_simple_text"));
          const oldEvs = await collect(old);
          assert.equal(oldEvs.length, 1, "no priming event before 2025-11-25");
          assert.equal(JSON.parse(oldEvs[0].data).id, 2);
        },
      );

      await t.step("a stream the server closes mid-call resumes with Last-Event-ID", async () => {
        const s = await rawSession(url, "2025-11-25");
        const first = await collect(await s.post(call(7, "test_reconnection")));
        assert.equal(first.length, 2, "priming event, then the retry hint; no reply yet");
        assert.equal(first[1].retry, 50);
        const resumed = await collect(await s.get({ "last-event-id": first[0].id! }));
        const reply = JSON.parse(resumed.at(-1)!.data);
        assert.equal(reply.id, 7);
        assert.match(reply.result.content[0].text, /Reconnection test completed/);
        // Resuming again after the reply replays it once more, then ends.
        const again = await collect(await s.get({ "last-event-id": first[0].id! }));
        assert.equal(JSON.parse(again.at(-1)!.data).id, 7);
      });

      await t.step("a dropped standalone stream loses no message", async () => {
        const s = await rawSession(url, "2025-11-25");
        const live = new AbortController();
        const get = await s.get({}, live.signal);
        const conflict = await s.get();
        assert.equal(conflict.status, 409, "one standalone stream at a time");
        await conflict.body?.cancel();
        const reader = collect(get, (_e, all) => all.length === 2);
        const subscribe = await s.post({
          jsonrpc: "2.0",
          id: 1,
          method: "resources/subscribe",
          params: { uri: "note://1" },
        });
        await subscribe.body?.cancel();
        await catalog.notes.add("one", "first", "");
        const seen = await reader; // priming event, list_changed
        assert.equal(seen[0].data, "");
        assert.equal(JSON.parse(seen[1].data).method, "notifications/resources/list_changed");
        live.abort();
        // While no connection holds the stream, three more notifications.
        await new Promise((r) => setTimeout(r, 50));
        await catalog.notes.update(1, { body: "changed" });
        await catalog.notes.add("two", "second", "");
        catalog.tools.remove("test_simple_text");
        const resumed = await s.get({ "last-event-id": seen[1].id! });
        const missed = await collect(resumed, (_e, all) => all.length === 3);
        assert.deepEqual(missed.map((e) => JSON.parse(e.data).method), [
          "notifications/resources/updated",
          "notifications/resources/list_changed",
          "notifications/tools/list_changed",
        ]);
        assert.equal(JSON.parse(missed[0].data).params.uri, "note://1");
      });

      await t.step("an unknown or evicted Last-Event-ID gets 400", async () => {
        const s = await rawSession(url);
        const res = await s.get({ "last-event-id": "99_12345" });
        assert.equal(res.status, 400);
        await res.body?.cancel();
        const store = new MemoryEventStore({ maxEvents: 3 });
        const first = store.append("s", "1", "a");
        for (const m of ["b", "c", "d"]) store.append("s", "1", m);
        assert.equal(store.replay("s", first), undefined, "evicted");
        assert.deepEqual(store.replay("s", "1_2")?.events.map((e) => e.message), ["c", "d"]);
        store.drop("s");
        assert.equal(store.sessions, 0);
      });
    }, { heartbeat: 200 });
  }),
);

Deno.test(
  "MCP a delivered stream's events are kept for keepDelivered, then forgotten",
  noLeaks(async () => {
    const store = new MemoryEventStore({ keepDelivered: 300 });
    await withMcp(async ({ url }) => {
      const s = await rawSession(url, "2025-11-25");
      const evs = await collect(await s.post(call(3, "test_simple_text")));
      assert.equal(evs[0].data, "", "priming event");
      const start = Date.now();
      // Within keepDelivered, a client that lost the end resumes it.
      const resumed = await collect(await s.get({ "last-event-id": evs[0].id! }));
      assert.equal(JSON.parse(resumed.at(-1)!.data).id, 3);
      assert.ok(store.events > 0);
      await waitFor(() => store.events === 0);
      assert.ok(Date.now() - start >= 250, `forgotten after ${Date.now() - start} ms`);
      const gone = await s.get({ "last-event-id": evs[0].id! });
      assert.equal(gone.status, 400);
      await gone.body?.cancel();
    }, { eventStore: store });
    // A stream that was never delivered (the standalone one, a call still
    // running) keeps its events; a session's end drops them.
    const own = new MemoryEventStore({ keepDelivered: 0 });
    const kept = own.append("s", "0", "a");
    own.append("s", "1", "b");
    own.append("s", "2", "c");
    own.delivered("s", "2");
    await waitFor(() => own.events === 2);
    assert.deepEqual(own.replay("s", kept), { streamId: "0", events: [] });
    assert.equal(own.replay("s", "2_3"), undefined);
    assert.equal(own.append("s", "0", "d"), "0_4", "ids stay unique in the session");
    own.delivered("s", "1");
    own.drop("s");
    assert.equal(own.sessions, 0);
  }),
);

Deno.test(
  "MCP http_fetch cuts a large page, reading only what it keeps",
  noLeaks(async () => {
    let sent = 0;
    const big = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
      const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
      return new Response(
        new ReadableStream({
          pull(c) {
            if (sent >= 8 * 1024 * 1024) return c.close();
            sent += chunk.length;
            c.enqueue(chunk);
          },
        }),
        { headers: { "content-type": "text/plain" } },
      );
    });
    try {
      await withMcp(async ({ url }) => {
        const s = await rawSession(url);
        const res = await s.post(
          call(1, "http_fetch", { url: `http://127.0.0.1:${big.addr.port}/`, maxChars: 100 }),
        );
        const reply = JSON.parse((await collect(res)).at(-1)!.data);
        assert.equal(reply.result.isError, undefined);
        assert.match(reply.result.content[0].text, /\n\nx{100}\n… \(cut at 100 characters\)$/);
        assert.ok(reply.result.structuredContent.bytes < 1024 * 1024);
      });
      await waitFor(() => true);
      assert.ok(sent < 8 * 1024 * 1024, `the server sent ${sent} bytes: the rest was not read`);
    } finally {
      await big.shutdown();
    }
  }),
);

// deno-lint-ignore-file no-import-prefix -- the MCP SDK is a test-only package, kept out of the import map
/**
 * The MCP example scaled out: three instances sharing their sessions on a
 * private redis-server, behind nginx's round robin (deploy/nginx.conf, no
 * sticky sessions). Real processes: an instance is killed with SIGKILL,
 * Redis is restarted under load.
 */
import assert from "node:assert/strict";
import { Client } from "npm:@modelcontextprotocol/sdk@^1.29/client/index.js";
import { StreamableHTTPClientTransport } from "npm:@modelcontextprotocol/sdk@^1.29/client/streamableHttp.js";
import { ElicitRequestSchema } from "npm:@modelcontextprotocol/sdk@^1.29/types.js";
import { events, type SseEvent } from "./mcp_helpers.ts";
import { Cluster, waitPort } from "./scale_cluster.ts";

const VERSION = "2025-11-25";
const JSON_ONLY = { accept: "application/json" };

/** A session opened with fetch through the balancer; every response's instance is recorded. */
class RawClient {
  id = "";
  readonly landed: string[] = [];
  constructor(readonly url: string) {}

  async init(capabilities: Record<string, unknown> = { elicitation: {} }): Promise<Response> {
    const res = await this.#send("POST", {
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: VERSION, capabilities, clientInfo: { name: "raw", version: "1" } },
    });
    const body = await res.text();
    if (res.status !== 200) return new Response(body, { status: res.status });
    this.id = res.headers.get("mcp-session-id")!;
    const note = await this.post({ jsonrpc: "2.0", method: "notifications/initialized" });
    await note.body?.cancel();
    return note;
  }

  post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return this.#send("POST", body, headers);
  }

  get(headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
    return this.#send("GET", undefined, { accept: "text/event-stream", ...headers }, signal);
  }

  async #send(
    method: string,
    body: unknown,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<Response> {
    const res = await fetch(this.url, {
      method,
      signal,
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...(this.id ? { "mcp-session-id": this.id, "mcp-protocol-version": VERSION } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    this.landed.push(res.headers.get("mcp-instance") ?? "?");
    return res;
  }
}

function call(id: number, name: string, args: Record<string, unknown> = {}, meta?: object) {
  const params: Record<string, unknown> = { name, arguments: args };
  if (meta) params._meta = meta;
  return { jsonrpc: "2.0", id, method: "tools/call", params };
}

/** An SDK client through the balancer; `landed` lists where its requests went. */
async function sdkClient(url: string) {
  const landed: string[] = [];
  const client = new Client({ name: "scale", version: "1" }, { capabilities: { elicitation: {} } });
  client.setRequestHandler(ElicitRequestSchema, () => ({
    action: "accept",
    content: { response: "from the SDK" },
  }));
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: async (input: URL | string, init?: RequestInit) => {
      const res = await fetch(input, init);
      landed.push(res.headers.get("mcp-instance") ?? "?");
      return res;
    },
  });
  await client.connect(transport);
  return {
    client,
    landed,
    async close() {
      await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}

/** The next event of `reader`, failing with `what` after 5 s. */
async function nextEvent(reader: AsyncGenerator<SseEvent>, what: string): Promise<SseEvent> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no event in 5 s: ${what}`)), 5000);
  });
  try {
    const r = await Promise.race([reader.next(), late]);
    if (r.done) throw new Error(`stream ended: ${what}`);
    return r.value;
  } finally {
    clearTimeout(timer);
  }
}

function textOf(result: unknown): string {
  return ((result as { content?: { text?: string }[] }).content ?? []).map((c) => c.text).join();
}

Deno.test("MCP scaled out: 3 instances behind nginx on one Redis, no sticky sessions", async (t) => {
  const cluster = new Cluster(3);
  const url = cluster.url;
  try {
    await cluster.start();
    await t.step(
      "20 SDK clients × 20 calls, each client's requests spread over the instances",
      async () => {
        const clients = await Promise.all(Array.from({ length: 20 }, () => sdkClient(url)));
        try {
          await Promise.all(clients.map(async ({ client }, c) => {
            for (let i = 0; i < 20; i++) {
              const r = await client.callTool({ name: "test_simple_text", arguments: {} });
              assert.match(textOf(r), /simple text response/, `client ${c} call ${i}`);
            }
            // The question comes on the call's stream; the answer may land anywhere.
            const r = await client.callTool({
              name: "test_elicitation",
              arguments: { message: "?" },
            });
            assert.match(textOf(r), /action=accept, content=\{"response":"from the SDK"\}/);
          }));
          for (const { landed } of clients) {
            assert.ok(
              new Set(landed).size >= 2,
              `one client's requests on ${[...new Set(landed)]}`,
            );
          }
          const all = new Set(clients.flatMap((c) => c.landed));
          assert.equal(all.size, 3, `instances seen: ${[...all]}`);
        } finally {
          await Promise.all(clients.map((c) => c.close()));
        }
      },
    );

    await t.step("a session's requests land on every instance in turn", async () => {
      const raw = new RawClient(url);
      await raw.init();
      for (let i = 0; i < 6; i++) {
        const res = await raw.post({ jsonrpc: "2.0", id: i + 1, method: "tools/list" });
        assert.equal(res.status, 200);
        assert.ok((await res.json()).result.tools.length > 0);
      }
      assert.equal(new Set(raw.landed).size, 3, raw.landed.join(" "));
      const del = await fetch(url, {
        method: "DELETE",
        headers: { "mcp-session-id": raw.id, "mcp-protocol-version": VERSION },
      });
      assert.equal(del.status, 204);
      const gone = await raw.post({ jsonrpc: "2.0", id: 9, method: "ping" });
      assert.equal(gone.status, 404, "ended on every instance");
      await gone.body?.cancel();
    });

    await t.step(
      "an elicitation sent by one instance reaches the client through a stream held by another",
      async () => {
        const raw = new RawClient(url);
        await raw.init();
        const stop = new AbortController();
        const stream = await raw.get({}, stop.signal);
        const holder = raw.landed.at(-1)!;
        const reader = events(stream);
        assert.equal((await nextEvent(reader, "priming")).data, "", "priming event");
        // Answered with JSON: the call's messages go on the standalone stream.
        const pending = raw.post(call(1, "test_elicitation", { message: "Who?" }), JSON_ONLY);
        const question = await nextEvent(reader, "the question");
        const asked = JSON.parse(question.data);
        assert.equal(asked.method, "elicitation/create");
        const answer = await raw.post({
          jsonrpc: "2.0",
          id: asked.id,
          result: { action: "accept", content: { response: "Ada" } },
        });
        assert.equal(answer.status, 202);
        const reply = await pending;
        const runner = reply.headers.get("mcp-instance");
        assert.notEqual(runner, holder, "the call ran where the stream is not held");
        assert.match(textOf((await reply.json()).result), /"response":"Ada"/);
        stop.abort();
        await reader.return();
      },
    );

    await t.step(
      "kill -9 of the instance holding the stream mid-call: resumed elsewhere with Last-Event-ID, every event once, in order",
      async () => {
        const raw = new RawClient(url);
        await raw.init();
        const stream = await raw.get();
        const holder = raw.landed.at(-1)!;
        const reader = events(stream);
        await nextEvent(reader, "priming");
        const pending = raw.post(
          call(1, "test_elicitation", { message: "Still there?" }),
          JSON_ONLY,
        );
        const question = await nextEvent(reader, "the question");
        const asked = JSON.parse(question.data);
        assert.equal(asked.method, "elicitation/create");
        const victim = cluster.instances.findIndex((_, i) =>
          Deno.readTextFileSync(`${cluster.dir}/instance-${i}.log`).includes(`instance ${holder}`)
        );
        assert.ok(victim >= 0, `instance ${holder} found`);
        await cluster.instances[victim]!.stop("SIGKILL");
        await assert.rejects(async () => {
          for (let r; !(r = await reader.next()).done;) {
            assert.fail(`event after the kill: ${r.value}`);
          }
          throw new Error("stream ended");
        });
        // Missed while no connection holds the stream: progress of two calls on the others.
        for (const token of ["a", "b"]) {
          const res = await raw.post(
            call(2, "test_tool_with_progress", {}, { progressToken: token }),
            JSON_ONLY,
          );
          assert.equal(res.status, 200);
          assert.notEqual(res.headers.get("mcp-instance"), holder);
          assert.match(textOf((await res.json()).result), /Progress reported/); // the whole call
        }
        const resumed = await raw.get({ "last-event-id": question.id! });
        assert.equal(resumed.status, 200);
        assert.notEqual(raw.landed.at(-1), holder);
        const again = events(resumed);
        const seen: SseEvent[] = [];
        for (let i = 0; i < 6; i++) {
          seen.push(await nextEvent(again, `replayed ${i}`));
        }
        // Live again: a third call's progress, then the answer, which the runner still waits for.
        const live = raw.post(
          call(3, "test_tool_with_progress", {}, { progressToken: "c" }),
          JSON_ONLY,
        );
        for (let i = 0; i < 3; i++) seen.push(await nextEvent(again, `live ${i}`));
        assert.match(textOf((await (await live).json()).result), /Progress reported/);
        const tokens = seen.map((e) => {
          const m = JSON.parse(e.data);
          return `${m.params.progressToken}${m.params.progress}`;
        });
        assert.deepEqual(tokens, ["a0", "a50", "a100", "b0", "b50", "b100", "c0", "c50", "c100"]);
        const ids = seen.map((e) => e.id!);
        assert.equal(new Set(ids).size, ids.length, "each event once");
        const answer = await raw.post({
          jsonrpc: "2.0",
          id: asked.id,
          result: { action: "accept", content: { response: "yes" } },
        });
        assert.equal(answer.status, 202);
        const reply = await pending;
        assert.match(textOf((await reply.json()).result), /"response":"yes"/);
        await again.return();
        await cluster.startInstance(victim);
      },
    );

    await t.step(
      "Redis restarted under load: clear errors during the outage only, then calls succeed",
      async () => {
        type Outcome = { at: number; ok: boolean; status: number; text: string };
        const outcomes: Outcome[][] = [];
        let running = true;
        const loops = Array.from({ length: 6 }, async (_, c) => {
          const mine: Outcome[] = outcomes[c] = [];
          const raw = new RawClient(url);
          for (let i = 0; running; i++) {
            let res: Response;
            if (!raw.id) {
              res = await raw.init();
              if (!raw.id) {
                mine.push({
                  at: Date.now(),
                  ok: false,
                  status: res.status,
                  text: await res.text(),
                });
                await new Promise((r) => setTimeout(r, 50));
                continue;
              }
            }
            res = await raw.post(call(i, "test_simple_text"), JSON_ONLY);
            const text = await res.text();
            mine.push({ at: Date.now(), ok: res.status === 200, status: res.status, text });
            if (res.status === 404) raw.id = ""; // the session went with Redis: initialize again
            if (res.status !== 200) await new Promise((r) => setTimeout(r, 50));
          }
        });
        await new Promise((r) => setTimeout(r, 1000));
        const down = Date.now();
        await cluster.redis!.stop("SIGKILL");
        await new Promise((r) => setTimeout(r, 1000));
        await cluster.startRedis();
        const up = Date.now();
        await new Promise((r) => setTimeout(r, 5000));
        running = false;
        await Promise.all(loops);
        for (const [c, mine] of outcomes.entries()) {
          assert.ok(mine.some((o) => o.ok && o.at < down), `client ${c} worked before`);
          const failures = mine.filter((o) => !o.ok);
          for (const f of failures) {
            assert.ok(f.at >= down && f.at < up + 4000, `client ${c}: failure outside the outage`);
            if (f.status === 503) assert.match(f.text, /session state out of reach \(redis/);
            else assert.equal(f.status, 404, `client ${c}: ${f.status} ${f.text}`);
          }
          const tail = mine.filter((o) => o.at > up + 4000);
          assert.ok(tail.length > 0 && tail.every((o) => o.ok), `client ${c} works after`);
        }
        assert.ok(outcomes.flat().some((o) => !o.ok), "the outage was seen");
        for (const [i, p] of cluster.instances.entries()) {
          assert.ok(p!.running, `instance ${i} alive`);
        }
        await Promise.all(cluster.ports.map((p) => waitPort(p, 1000)));
      },
    );
  } finally {
    await cluster.stop();
  }
});

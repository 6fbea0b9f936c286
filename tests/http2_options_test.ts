/**
 * The `http2` serve option's object form: each setting is announced in
 * the server's SETTINGS (or its first WINDOW_UPDATE) and enforced with the
 * RFC's code, each defence bound moves where the client is stopped; `true`
 * and `"h2c"` keep working, and a wrong value is a `TypeError` naming it.
 */
import assert from "node:assert/strict";
import { sleep } from "../mod.ts";
import { concat } from "../src/_bytes.ts";
import { serve, type ServeOptions, type Server } from "../src/http/mod.ts";
import * as f from "../src/http/_h2_frames.ts";
import * as s from "../src/http/_h2_settings.ts";
import { type Outcome, RawClient, requestFields, u32 } from "./fixtures/h2/raw_client.ts";
import { noLeaks } from "./leak.ts";

async function withServer(
  http2: ServeOptions["http2"],
  fn: (server: Server) => Promise<void>,
): Promise<void> {
  const server = await serve(async (req) => {
    if (req.path === "/slow") await sleep(1000);
    return { path: req.path };
  }, { port: 0, http2, shutdownOnSignal: false, onError: () => {} });
  try {
    await fn(server);
  } finally {
    await server.shutdown({ timeout: 300 });
  }
}

/** Opens a connection, runs `act`, returns the server's SETTINGS, first WINDOW_UPDATE and outcome. */
async function run(
  server: Server,
  act: (c: RawClient) => Promise<void>,
  ignore: number[] = [],
): Promise<{ settings: Map<number, number>; window: number; outcome: Outcome }> {
  const c = await RawClient.open(server.addr.port!);
  try {
    const settings = new Map<number, number>();
    const first = await c.until(f.SETTINGS);
    for (let i = 0; i < first!.payload.length; i += 6) {
      settings.set(first!.payload[i] << 8 | first!.payload[i + 1], f.read32(first!.payload, i + 2));
    }
    const update = await c.until(f.WINDOW_UPDATE, 0);
    await act(c);
    return {
      settings,
      window: f.read31(update!.payload, 0),
      outcome: await c.outcome(3000, ignore),
    };
  } finally {
    c.close();
  }
}

Deno.test(
  "http2 option maxConcurrentStreams: announced, and the stream past it is refused",
  noLeaks(async () => {
    await withServer({ h2c: true, maxConcurrentStreams: 3 }, async (server) => {
      const got = await run(server, async (c) => {
        for (let id = 1; id <= 7; id += 2) await c.request(id, "/slow");
      });
      assert.equal(got.settings.get(s.MAX_CONCURRENT_STREAMS), 3);
      assert.deepEqual(got.outcome, { rst: f.REFUSED_STREAM, stream: 7 });
    });
  }),
);

Deno.test(
  "http2 option initialWindowSize: announced, and DATA past it is a FLOW_CONTROL_ERROR",
  noLeaks(async () => {
    await withServer({ h2c: true, initialWindowSize: 20_000 }, async (server) => {
      const got = await run(server, async (c) => {
        await c.request(1, "/slow", false);
        await c.frame(f.DATA, 0, 1, new Uint8Array(16_000));
        await c.frame(f.DATA, 0, 1, new Uint8Array(8_000));
      });
      assert.equal(got.settings.get(s.INITIAL_WINDOW_SIZE), 20_000);
      assert.deepEqual(got.outcome, { rst: f.FLOW_CONTROL_ERROR, stream: 1 });
    });
  }),
);

Deno.test(
  "http2 option connectionWindowSize: the first WINDOW_UPDATE grants it, DATA past it ends the connection",
  noLeaks(async () => {
    await withServer(
      { h2c: true, connectionWindowSize: 100_000, initialWindowSize: 1 << 20 },
      async (server) => {
        const got = await run(server, async (c) => {
          await c.request(1, "/slow", false);
          const data = c.frameBytes(f.DATA, 0, 1, new Uint8Array(16_384));
          await c.conn.write(concat(Array(7).fill(data)));
        });
        assert.equal(got.window, 100_000 - s.DEFAULT_WINDOW);
        assert.deepEqual(got.outcome, { goaway: f.FLOW_CONTROL_ERROR });
      },
    );
  }),
);

Deno.test(
  "http2 option maxHeaderListSize: announced, and a larger list gets 431",
  noLeaks(async () => {
    await withServer({ h2c: true, maxHeaderListSize: 1000 }, async (server) => {
      const got = await run(server, (c) => c.request(1, "/", true, [["x-big", "~".repeat(1200)]]));
      assert.equal(got.settings.get(s.MAX_HEADER_LIST_SIZE), 1000);
      assert.deepEqual(got.outcome, { status: "431" });
    });
  }),
);

Deno.test(
  "http2 option maxResetsPerSecond: the reset past it gets GOAWAY ENHANCE_YOUR_CALM",
  noLeaks(async () => {
    await withServer({ h2c: true, maxResetsPerSecond: 5 }, async (server) => {
      const reset = (c: RawClient, id: number) =>
        concat([
          c.frameBytes(
            f.HEADERS,
            f.END_HEADERS | f.END_STREAM,
            id,
            c.block(requestFields("/slow")),
          ),
          c.frameBytes(f.RST_STREAM, 0, id, u32(f.CANCEL)),
        ]);
      const five = await run(server, async (c) => {
        await c.conn.write(concat([1, 3, 5, 7, 9].map((id) => reset(c, id))));
        await c.request(11);
      });
      assert.deepEqual(five.outcome, { status: "200" });
      const six = await run(server, async (c) => {
        await c.conn.write(concat([1, 3, 5, 7, 9, 11].map((id) => reset(c, id))));
      });
      assert.deepEqual(six.outcome, { goaway: f.ENHANCE_YOUR_CALM });
    });
  }),
);

Deno.test(
  "http2 option maxContinuations: the CONTINUATION past it gets GOAWAY ENHANCE_YOUR_CALM",
  noLeaks(async () => {
    await withServer({ h2c: true, maxContinuations: 2 }, async (server) => {
      const block = (n: number) => async (c: RawClient) => {
        const bytes = c.block(
          requestFields("/", false, [["x-a", "1"], ["x-b", "2"], ["x-c", "3"]]),
        );
        const cut = Math.ceil(bytes.length / (n + 1));
        const parts = [c.frameBytes(f.HEADERS, f.END_STREAM, 1, bytes.slice(0, cut))];
        for (let i = 1; i <= n; i++) {
          const flags = i === n ? f.END_HEADERS : 0;
          parts.push(c.frameBytes(f.CONTINUATION, flags, 1, bytes.slice(i * cut, (i + 1) * cut)));
        }
        await c.conn.write(concat(parts));
      };
      assert.deepEqual((await run(server, block(2))).outcome, { status: "200" });
      assert.deepEqual((await run(server, block(3))).outcome, { goaway: f.ENHANCE_YOUR_CALM });
    });
  }),
);

Deno.test(
  "http2 option maxControlFramesPerSecond: the PING past it gets GOAWAY ENHANCE_YOUR_CALM",
  noLeaks(async () => {
    await withServer({ h2c: true, maxControlFramesPerSecond: 4 }, async (server) => {
      const pings = (n: number) => (c: RawClient) =>
        c.conn.write(concat(Array(n).fill(c.frameBytes(f.PING, 0, 0, new Uint8Array(8)))));
      assert.deepEqual((await run(server, pings(4))).outcome, { ping: true });
      assert.deepEqual((await run(server, pings(5), [f.PING])).outcome, {
        goaway: f.ENHANCE_YOUR_CALM,
      });
    });
  }),
);

Deno.test(
  'http2 option: "h2c" and { h2c: true } serve cleartext with the defaults',
  noLeaks(async () => {
    for (const http2 of ["h2c", { h2c: true }] as const) {
      await withServer(http2, async (server) => {
        const got = await run(server, (c) => c.request(1));
        assert.equal(got.settings.get(s.MAX_CONCURRENT_STREAMS), 100);
        assert.equal(got.settings.get(s.INITIAL_WINDOW_SIZE), 256 * 1024);
        assert.equal(got.window, 1024 * 1024 - s.DEFAULT_WINDOW);
        assert.deepEqual(got.outcome, { status: "200" });
      });
    }
  }),
);

Deno.test("http2 option: a wrong value is a TypeError that names it", async () => {
  const wrong: [unknown, RegExp][] = [
    [
      { h2c: true, maxConcurrentStreams: 0 },
      /http2\.maxConcurrentStreams must be an integer from 1/,
    ],
    [{ h2c: true, initialWindowSize: 2 ** 31 }, /http2\.initialWindowSize .* \(got 2147483648\)/],
    [{ h2c: true, connectionWindowSize: 1000 }, /http2\.connectionWindowSize .* from 65535/],
    [{ h2c: true, maxResetsPerSecond: 1.5 }, /http2\.maxResetsPerSecond/],
    [{ h2c: "yes" }, /http2\.h2c must be a boolean/],
    [{ h2c: true, maxStreams: 5 }, /http2\.maxStreams is not an option/],
    ["h2", /http2 must be true, "h2c" or an object/],
    [{ maxConcurrentStreams: 5 }, /needs cert and key/],
    [true, /needs cert and key/],
  ];
  for (const [http2, message] of wrong) {
    await assert.rejects(
      serve(() => "x", { port: 0, http2: http2 as ServeOptions["http2"], shutdownOnSignal: false }),
      (err: Error) => err instanceof TypeError && message.test(err.message),
      JSON.stringify(http2),
    );
  }
});

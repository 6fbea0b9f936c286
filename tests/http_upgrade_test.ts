/**
 * Taking a connection over from a handler (src/http/_upgrade.ts): the 101
 * head, the bytes pipelined after the request head, raw echo on the
 * socket, the refusals, onEnd, and graceful shutdown of an upgraded
 * connection. Real sockets; run on both backends.
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { Cancelled } from "../src/errors.ts";
import type { Conn } from "../src/socket.ts";
import type { HttpRequest } from "../src/http/mod.ts";
import { upgrade, type Upgraded } from "../src/http/_upgrade.ts";
import { client, parseResponses, withServer } from "./http_helpers.ts";
import { noLeaks } from "./leak.ts";

const decoder = new TextDecoder();
const OFFER = "Connection: upgrade\r\nUpgrade: echo\r\n";
const SWITCH: [string, string][] = [["connection", "upgrade"], ["upgrade", "echo"]];

// Reads until `text` holds `want` (or the server closes, or 5 s pass).
async function readUntil(conn: Conn, want: string, text = ""): Promise<string> {
  const deadline = Date.now() + 5000;
  while (!text.includes(want)) {
    const chunk = await conn.read({ deadline });
    if (chunk === null) break;
    text += decoder.decode(chunk);
  }
  return text;
}

// Reads until the server closes; returns what came.
async function readToEnd(conn: Conn): Promise<string> {
  const deadline = Date.now() + 5000;
  let text = "";
  for (let chunk; (chunk = await conn.read({ deadline })) !== null;) text += decoder.decode(chunk);
  return text;
}

// Echoes everything on the upgraded socket, the early bytes first.
async function echo({ conn, head }: Upgraded): Promise<void> {
  if (head.length > 0) await conn.write(head);
  for (let data; (data = await conn.read()) !== null;) await conn.write(data);
}

Deno.test(
  "http upgrade: the handler echoes raw bytes; bytes pipelined after the head arrive in head",
  noLeaks(async () => {
    const ended: unknown[] = [];
    const heads: string[] = [];
    await withServer(
      async (req) => {
        const up = await upgrade(req, SWITCH, (err) => {
          ended.push(err);
        });
        heads.push(decoder.decode(up.head));
        await echo(up);
      },
      {},
      async (port) => {
        const conn = await client(port);
        try {
          await conn.write(`GET /ws HTTP/1.1\r\nHost: x\r\n${OFFER}\r\nearly bytes|`);
          let text = await readUntil(conn, "early bytes|");
          equal(
            text,
            "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\nearly bytes|",
          );
          await conn.write("GET / HTTP/1.1\r\n\r\n"); // no longer HTTP: echoed
          text = await readUntil(conn, "GET / HTTP/1.1\r\n\r\n");
          equal(text, "GET / HTTP/1.1\r\n\r\n");
          await conn.shutdown();
          equal(await readToEnd(conn), "");
        } finally {
          conn.close();
        }
        deepEqual(heads, ["early bytes|"]);
        deepEqual(ended, [undefined]);
      },
    );
  }),
);

Deno.test(
  "http upgrade: an earlier pipelined response goes out before the 101 head",
  noLeaks(async () => {
    await withServer(
      async (req) => {
        if (req.path === "/a") return "first";
        await echo(await upgrade(req, SWITCH));
      },
      {},
      async (port) => {
        const conn = await client(port);
        try {
          await conn.write(
            `GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /ws HTTP/1.1\r\nHost: x\r\n${OFFER}\r\nping`,
          );
          const text = await readUntil(conn, "ping");
          const at = text.indexOf("HTTP/1.1 101 ");
          ok(at > 0, text);
          const [first] = parseResponses(text.slice(0, at));
          equal(first.status, 200);
          equal(first.body, "first");
          ok(text.endsWith("\r\n\r\nping"), text);
        } finally {
          conn.close();
        }
      },
    );
  }),
);

Deno.test(
  "http upgrade: a handler that returns at once ends the connection after the 101 head",
  noLeaks(async () => {
    const ended: unknown[] = [];
    await withServer(
      (req) => {
        upgrade(req, SWITCH, (err) => {
          ended.push(err);
        }).catch(() => {});
        return "ignored";
      },
      {},
      async (port) => {
        const conn = await client(port);
        try {
          await conn.write(`GET /ws HTTP/1.1\r\nHost: x\r\n${OFFER}\r\n`);
          equal(
            await readToEnd(conn),
            "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n",
          );
        } finally {
          conn.close();
        }
        deepEqual(ended, [undefined]);
      },
    );
  }),
);

Deno.test(
  "http upgrade: onEnd gets the handler's error; without onEnd it is reported",
  noLeaks(async (t) => {
    const ended: unknown[] = [];
    const reported: unknown[] = [];
    await withServer(
      async (req) => {
        const up = await upgrade(
          req,
          SWITCH,
          req.path === "/hook"
            ? (err) => {
              ended.push(err);
            }
            : undefined,
        );
        await up.conn.write("up");
        throw new Error(`boom ${req.path}`);
      },
      { onError: (err) => reported.push(err) },
      async (port) => {
        for (const path of ["/hook", "/plain"]) {
          await t.step(path, async () => {
            const conn = await client(port);
            try {
              await conn.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n${OFFER}\r\n`);
              const text = await readToEnd(conn);
              ok(text.startsWith("HTTP/1.1 101 ") && text.endsWith("\r\n\r\nup"), text);
            } finally {
              conn.close();
            }
          });
        }
      },
    );
    equal(ended.length, 1);
    equal((ended[0] as Error).message, "boom /hook");
    equal(reported.length, 1);
    equal((reported[0] as Error).message, "boom /plain");
  }),
);

Deno.test(
  "http upgrade: refused with a TypeError where the connection cannot switch",
  noLeaks(async (t) => {
    // Each handler tries to upgrade and answers with what it was told.
    const attempt = async (req: HttpRequest, headers = SWITCH): Promise<string> => {
      try {
        await upgrade(req, headers);
        return "upgraded";
      } catch (err) {
        ok(err instanceof TypeError, String(err));
        return err.message;
      }
    };
    await withServer(
      async (req) => {
        switch (req.path) {
          case "/twice": {
            const up = await upgrade(req, SWITCH);
            await up.conn.write(await attempt(req));
            return;
          }
          case "/framing":
            return await attempt(req, [...SWITCH, ["content-length", "0"]]);
          case "/te":
            return await attempt(req, [...SWITCH, ["Transfer-Encoding", "chunked"]]);
          case "/crlf":
            return await attempt(req, [["upgrade", "echo\r\nx-injected: 1"]]);
          case "/name":
            return await attempt(req, [["bad name", "1"]]);
          case "/late": {
            // After the response started: from the body's producer.
            const { PushBody, respond } = await import("../src/http/mod.ts");
            return respond(
              new PushBody(async (write) => {
                await write(await attempt(req));
              }),
            );
          }
          default:
            return await attempt(req);
        }
      },
      {},
      async (port) => {
        const cases: [string, string, RegExp][] = [
          ["HTTP/1.0", `GET / HTTP/1.0\r\n${OFFER}\r\n`, /HTTP\/1\.0/],
          ["no Connection: upgrade", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n\r\n", /offer/],
          [
            "no Upgrade field",
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\r\n",
            /offer/,
          ],
          [
            "body not read",
            `POST / HTTP/1.1\r\nHost: x\r\n${OFFER}Content-Length: 3\r\n\r\nabc`,
            /body/,
          ],
          [
            "chunked body pending",
            `POST / HTTP/1.1\r\nHost: x\r\n${OFFER}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
            /body/,
          ],
          ["a framing field", `GET /framing HTTP/1.1\r\nHost: x\r\n${OFFER}\r\n`, /content-length/],
          ["Transfer-Encoding", `GET /te HTTP/1.1\r\nHost: x\r\n${OFFER}\r\n`, /Transfer-Encoding/],
          ["CR LF in a value", `GET /crlf HTTP/1.1\r\nHost: x\r\n${OFFER}\r\n`, /control/],
          ["an invalid name", `GET /name HTTP/1.1\r\nHost: x\r\n${OFFER}\r\n`, /header name/],
          ["the response started", `GET /late HTTP/1.1\r\nHost: x\r\n${OFFER}\r\n`, /started/],
        ];
        for (const [name, request, expected] of cases) {
          await t.step(name, async () => {
            const conn = await client(port);
            try {
              await conn.write(request);
              const text = await readUntil(conn, "http upgrade: ");
              match(text, /^HTTP\/1\.[01] 200 /);
              match(text, /http upgrade: /);
              match(text, expected);
            } finally {
              conn.close();
            }
          });
        }
        await t.step("called twice", async () => {
          const conn = await client(port);
          try {
            await conn.write(`GET /twice HTTP/1.1\r\nHost: x\r\n${OFFER}\r\n`);
            const text = await readToEnd(conn);
            ok(text.startsWith("HTTP/1.1 101 "), text);
            ok(text.endsWith("\r\n\r\nhttp upgrade: already upgraded"), text);
          } finally {
            conn.close();
          }
        });
      },
    );
  }),
);

Deno.test(
  "http upgrade: shutdown waits for an upgraded task up to the deadline, then cancels it",
  noLeaks(async () => {
    const ended: unknown[] = [];
    let upgraded!: () => void;
    const ready = new Promise<void>((resolve) => upgraded = resolve);
    await withServer(
      async (req) => {
        const up = await upgrade(req, SWITCH, async (err) => {
          ended.push(err);
          await new Promise((resolve) => setTimeout(resolve, 20)); // onEnd may wait
        });
        upgraded();
        await echo(up);
      },
      {},
      async (port, server) => {
        const conn = await client(port);
        try {
          await conn.write(`GET /ws HTTP/1.1\r\nHost: x\r\n${OFFER}\r\n`);
          await readUntil(conn, "\r\n\r\n");
          await ready;
          const started = Date.now();
          await server.shutdown({ timeout: 300 });
          const took = Date.now() - started;
          ok(took >= 250, `shutdown took ${took} ms`);
          equal(server.connections, 0);
          equal(await readToEnd(conn).catch(() => ""), "");
        } finally {
          conn.close();
        }
      },
    );
    equal(ended.length, 1);
    ok(ended[0] instanceof Cancelled, String(ended[0]));
  }),
);

Deno.test(
  "http upgrade: an upgraded connection outlives the response timeout",
  noLeaks(async () => {
    await withServer(async (req) => echo(await upgrade(req, SWITCH)), {
      responseTimeout: 100,
    }, async (port) => {
      const conn = await client(port);
      try {
        await conn.write(`GET /ws HTTP/1.1\r\nHost: x\r\n${OFFER}\r\n`);
        await readUntil(conn, "\r\n\r\n");
        await new Promise((resolve) => setTimeout(resolve, 300));
        await conn.write("still here");
        equal(await readUntil(conn, "still here"), "still here");
      } finally {
        conn.close();
      }
    });
  }),
);

/**
 * The `Deno.serve` peer of the TechEmpower-type benchmark, with
 * `npm:postgres` (its own pool, prepared statements), one process.
 *
 *     deno run -A bench/web/deno_server.ts --port=18402 --db=postgres://… --pool=8
 *
 * @module
 */
import { fortunesHtml, HELLO, queriesOf, randomId } from "./_tfb.ts";
import { npmWorlds, worlds } from "./_worlds.ts";

function arg(name: string): string {
  const found = Deno.args.find((a) => a.startsWith(`--${name}=`));
  if (!found) throw new Error(`missing --${name}=`);
  return found.slice(name.length + 3);
}

const db = await npmWorlds(arg("db"), Number(arg("pool")));
const TEXT = { server: "Deno", "content-type": "text/plain; charset=utf-8" };
const JSON_TYPE = { server: "Deno", "content-type": "application/json" };
const HTML = { server: "Deno", "content-type": "text/html; charset=utf-8" };

function sendJson(data: unknown): Response {
  return new Response(JSON.stringify(data), { headers: JSON_TYPE });
}

Deno.serve({ hostname: "127.0.0.1", port: Number(arg("port")), onListen() {} }, async (req) => {
  const url = req.url;
  const path = url.slice(url.indexOf("/", 8));
  const q = path.indexOf("?");
  switch (q === -1 ? path : path.slice(0, q)) {
    case "/plaintext":
      return new Response(HELLO, { headers: TEXT });
    case "/json":
      return sendJson({ message: HELLO });
    case "/db":
      return sendJson(await db.world());
    case "/queries":
      return sendJson(await worlds(db, queriesOf(path)));
    case "/fortunes":
      return new Response(fortunesHtml(await db.fortunes()), { headers: HTML });
    case "/updates": {
      const list = await worlds(db, queriesOf(path));
      for (const w of list) w.randomNumber = randomId();
      await db.update(list);
      return sendJson(list);
    }
  }
  return new Response("not found", { status: 404 });
});

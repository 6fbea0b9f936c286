/**
 * The lunet peer of the TechEmpower-type benchmark: lunet/http's router
 * with lunet/postgres (pooled, prepared statements), one process. With
 * `--driver=npm` the same server queries straight through `npm:postgres`,
 * which tells the HTTP engine's share from the driver's. `--idle=N` also
 * opens N `npm:postgres` connections that stay idle (one `SELECT 1` each),
 * for `gc_survival.ts`.
 *
 *     deno run -A bench/web/lunet_server.ts --port=18401 --db=postgres://… --pool=8 [--driver=npm] [--idle=8]
 *
 * @module
 */
import { HttpResponse, json, Router, serve, text } from "../../src/http/mod.ts";
import { fortunesHtml, HELLO, queriesOf, randomId } from "./_tfb.ts";
import { idleConnections, lunetWorlds, npmWorlds, worlds } from "./_worlds.ts";

function arg(name: string, fallback?: string): string {
  const found = Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  if (found === undefined && fallback === undefined) throw new Error(`missing --${name}=`);
  return found ?? fallback!;
}

const open = arg("driver", "lunet") === "npm" ? npmWorlds : lunetWorlds;
const db = await open(arg("db"), Number(arg("pool")));
await idleConnections(arg("db"), Number(arg("idle", "0")));
const SERVER = { server: "lunet" };
const HTML = { server: "lunet", "content-type": "text/html; charset=utf-8" };

const app = new Router()
  .get("/plaintext", () => text(HELLO, { headers: SERVER }))
  .get("/json", () => json({ message: HELLO }, { headers: SERVER }))
  .get("/db", async () => json(await db.world(), { headers: SERVER }))
  .get(
    "/queries",
    async (req) => json(await worlds(db, queriesOf(req.target)), { headers: SERVER }),
  )
  .get(
    "/fortunes",
    async () => new HttpResponse(fortunesHtml(await db.fortunes()), { headers: HTML }),
  )
  .get("/updates", async (req) => {
    const list = await worlds(db, queriesOf(req.target));
    for (const w of list) w.randomNumber = randomId();
    await db.update(list);
    return json(list, { headers: SERVER });
  });

await serve(app, { port: Number(arg("port")) });

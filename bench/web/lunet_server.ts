/**
 * The lunet peer of the TechEmpower-type benchmark: lunet/http's router
 * with lunet/postgres (pooled, prepared statements), one process.
 *
 *     deno run -A bench/web/lunet_server.ts --port=18401 --db=postgres://… --pool=8
 *
 * @module
 */
import { HttpResponse, json, Router, serve, text } from "../../src/http/mod.ts";
import * as postgres from "../../drivers/postgres.ts";
import { fortunesHtml, HELLO, queriesOf, randomId, updateParams, updateSql } from "./_tfb.ts";

function arg(name: string): string {
  const found = Deno.args.find((a) => a.startsWith(`--${name}=`));
  if (!found) throw new Error(`missing --${name}=`);
  return found.slice(name.length + 3);
}

const db = await postgres.open({ url: arg("db"), pool: Number(arg("pool")) });
const SERVER = { server: "lunet" };
const HTML = { server: "lunet", "content-type": "text/html; charset=utf-8" };
const WORLD = "SELECT id, randomnumber FROM world WHERE id = $1";

interface World {
  id: number;
  randomNumber: number;
}

async function world(): Promise<World> {
  const row = await db.queryOne<{ id: number; randomnumber: number }>(WORLD, randomId());
  return { id: row!.id, randomNumber: row!.randomnumber };
}

function worlds(n: number): Promise<World[]> {
  const out: Promise<World>[] = [];
  for (let i = 0; i < n; i++) out.push(world());
  return Promise.all(out);
}

const app = new Router()
  .get("/plaintext", () => text(HELLO, { headers: SERVER }))
  .get("/json", () => json({ message: HELLO }, { headers: SERVER }))
  .get("/db", async () => json(await world(), { headers: SERVER }))
  .get("/queries", async (req) => json(await worlds(queriesOf(req.target)), { headers: SERVER }))
  .get("/fortunes", async () => {
    const rows = await db.query<{ id: number; message: string }>("SELECT id, message FROM fortune");
    return new HttpResponse(fortunesHtml(rows), { headers: HTML });
  })
  .get("/updates", async (req) => {
    const list = await worlds(queriesOf(req.target));
    for (const w of list) w.randomNumber = randomId();
    await db.exec(updateSql(list.length), ...updateParams(list));
    return json(list, { headers: SERVER });
  });

await serve(app, { port: Number(arg("port")) });

/**
 * The node:http peer of the TechEmpower-type benchmark, run by Node with
 * `npm:postgres` (its own pool, prepared statements), one process. The
 * shared rules of bench/web/_tfb.ts are repeated here (Node 20 runs no
 * TypeScript). The package is imported from the path in `POSTGRES_JS`.
 *
 *     POSTGRES_JS=…/postgres/src/index.js node bench/web/node_server.mjs --port=18403 --db=postgres://… --pool=8
 */
import http from "node:http";
import { pathToFileURL } from "node:url";

const { default: postgres } = await import(pathToFileURL(process.env.POSTGRES_JS).href);

function arg(name) {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (!found) throw new Error(`missing --${name}=`);
  return found.slice(name.length + 3);
}

const sql = postgres(arg("db"), { max: Number(arg("pool")), onnotice: () => {} });
const HELLO = "Hello, World!";
const randomId = () => 1 + Math.floor(Math.random() * 10000);

function queriesOf(target) {
  const at = target.indexOf("queries=");
  if (at === -1) return 1;
  const n = parseInt(target.slice(at + 8), 10);
  return Number.isNaN(n) || n < 1 ? 1 : n > 500 ? 500 : n;
}

const updates = new Map();
function updateSql(n) {
  let text = updates.get(n);
  if (text === undefined) {
    const values = Array.from({ length: n }, (_, i) => `($${2 * i + 1}::int, $${2 * i + 2}::int)`);
    text = "UPDATE world SET randomnumber = v.r FROM (VALUES " + values.join(", ") +
      ") AS v (id, r) WHERE world.id = v.id";
    updates.set(n, text);
  }
  return text;
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;" };
const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);

function fortunesHtml(rows) {
  const all = [...rows, { id: 0, message: "Additional fortune added at request time." }];
  all.sort((a, b) => (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
  let html = "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>" +
    "<tr><th>id</th><th>message</th></tr>";
  for (const f of all) html += `<tr><td>${f.id}</td><td>${escapeHtml(f.message)}</td></tr>`;
  return html + "</table></body></html>";
}

async function world() {
  const [row] = await sql`SELECT id, randomnumber FROM world WHERE id = ${randomId()}`;
  return { id: row.id, randomNumber: row.randomnumber };
}

function worlds(n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(world());
  return Promise.all(out);
}

function send(res, type, body) {
  res.writeHead(200, {
    server: "Node",
    "content-type": type,
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

const JSON_TYPE = "application/json";

async function route(req, res) {
  const url = req.url;
  const q = url.indexOf("?");
  switch (q === -1 ? url : url.slice(0, q)) {
    case "/plaintext":
      return send(res, "text/plain; charset=utf-8", HELLO);
    case "/json":
      return send(res, JSON_TYPE, JSON.stringify({ message: HELLO }));
    case "/db":
      return send(res, JSON_TYPE, JSON.stringify(await world()));
    case "/queries":
      return send(res, JSON_TYPE, JSON.stringify(await worlds(queriesOf(url))));
    case "/fortunes": {
      const rows = await sql`SELECT id, message FROM fortune`;
      return send(res, "text/html; charset=utf-8", fortunesHtml(rows));
    }
    case "/updates": {
      const list = await worlds(queriesOf(url));
      for (const w of list) w.randomNumber = randomId();
      const params = [...list].sort((a, b) => a.id - b.id).flatMap((w) => [w.id, w.randomNumber]);
      await sql.unsafe(updateSql(list.length), params, { prepare: true });
      return send(res, JSON_TYPE, JSON.stringify(list));
    }
  }
  res.writeHead(404, { server: "Node" });
  res.end("not found");
}

http.createServer((req, res) => {
  route(req, res).catch((err) => {
    console.error(err);
    res.writeHead(500);
    res.end();
  });
}).listen(Number(arg("port")), "127.0.0.1");

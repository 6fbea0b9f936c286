/**
 * WebSocket server on 127.0.0.1:18082 with lunet/ws:
 *
 * - `/echo` echoes every message with its type (text stays text, binary
 *   stays binary); a client's close code is answered with the same code.
 * - `/chat` joins the topic `chat`: every message is relayed to everyone
 *   in the room (across workers too, were it served with `workers`).
 *
 * Run:  deno run -A examples/06_websocket.ts
 * Try:  in a browser console:
 *         const ws = new WebSocket("ws://127.0.0.1:18082/chat");
 *         ws.onmessage = (e) => console.log(e.data); ws.onopen = () => ws.send("hi");
 * With `--smoke` (or LUNET_SMOKE=1) it checks itself once and exits.
 */
import { Router, serve } from "../src/http/mod.ts";
import { handleShutdownSignals } from "../src/signal.ts";
import { accept, connect, publish } from "../src/ws/mod.ts";

const PORT = 18082;
const smoke = Deno.args.includes("--smoke") || Deno.env.get("LUNET_SMOKE") === "1";

const router = new Router()
  .get("/echo", async (req) => {
    const ws = await accept(req, { compress: true });
    for await (const msg of ws) await ws.send(msg);
  })
  .get("/chat", async (req) => {
    const ws = await accept(req, { compress: true });
    const name = req.query.get("name") ?? `guest-${req.remote.port ?? 0}`;
    ws.subscribe("chat");
    publish("chat", `${name} joined`);
    for await (const msg of ws) {
      if (typeof msg === "string") publish("chat", `${name}: ${msg}`);
    }
    publish("chat", `${name} left`);
  });

const server = await serve(router, { port: PORT });
handleShutdownSignals({ timeout: 5000 });
console.log(`WebSocket example listening on ws://127.0.0.1:${PORT}/echo and /chat`);

if (smoke) {
  const fail = (what: string, got: unknown) => {
    console.error("smoke check failed:", what, got);
    Deno.exit(1);
  };
  const echo = await connect(`ws://127.0.0.1:${PORT}/echo`, { compress: true, timeout: 5000 });
  await echo.send("hello");
  const text = await echo.recv({ timeout: 5000 });
  if (text !== "hello") fail("text echo", text);
  await echo.send(new Uint8Array([1, 2, 3]));
  const bin = await echo.recv({ timeout: 5000 });
  if (!(bin instanceof Uint8Array) || bin.join() !== "1,2,3") fail("binary echo", bin);
  const info = await echo.close(4000, "done");
  if (info.code !== 4000 || !info.wasClean) fail("close code", info);

  const alice = await connect(`ws://127.0.0.1:${PORT}/chat?name=alice`, { timeout: 5000 });
  if (await alice.recv({ timeout: 5000 }) !== "alice joined") fail("join", "alice");
  const bob = await connect(`ws://127.0.0.1:${PORT}/chat?name=bob`, { timeout: 5000 });
  if (await alice.recv({ timeout: 5000 }) !== "bob joined") fail("join", "bob");
  if (await bob.recv({ timeout: 5000 }) !== "bob joined") fail("join", "bob (own)");
  await alice.send("hi bob");
  for (const ws of [alice, bob]) {
    const got = await ws.recv({ timeout: 5000 });
    if (got !== "alice: hi bob") fail("relay", got);
  }
  await alice.close();
  await bob.close();
  await server.shutdown({ timeout: 1000 });
  console.log("smoke check ok: echo (text, binary, close code) and chat relay");
}

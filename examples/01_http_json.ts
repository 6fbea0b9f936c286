/**
 * A minimal HTTP server returning JSON, on 127.0.0.1:18080, with
 * keep-alive connections.
 *
 * Run:  deno run -A examples/01_http_json.ts
 * Try:  curl http://127.0.0.1:18080/
 *       curl http://127.0.0.1:18080/hello
 * Ctrl-C (SIGINT) or SIGTERM lets in-flight requests finish, then exits.
 * With `--smoke` (or LUNET_SMOKE=1) it checks itself once and exits.
 */
import { json, serve } from "../src/http/mod.ts";
import { handleShutdownSignals } from "../src/signal.ts";

const PORT = 18080;
const smoke = Deno.args.includes("--smoke") || Deno.env.get("LUNET_SMOKE") === "1";

const server = await serve((req) =>
  json({
    message: "Hello from Lunet!",
    request: { method: req.method, path: req.path },
    example: {
      string: "Hello, World!",
      number: 42,
      boolean: true,
      array: [1, 2, 3],
      nested: { key: "value" },
    },
  }), { port: PORT });
handleShutdownSignals({ timeout: 5000 });

console.log(`HTTP+JSON example server listening on http://127.0.0.1:${PORT}`);
console.log("Try:");
console.log(`  curl http://127.0.0.1:${PORT}/`);
console.log(`  curl http://127.0.0.1:${PORT}/hello`);

if (smoke) {
  const res = await fetch(`http://127.0.0.1:${PORT}/hello`);
  const body = await res.json();
  await server.shutdown({ timeout: 1000 });
  if (res.status !== 200 || body.request.path !== "/hello" || body.example.number !== 42) {
    console.error("smoke check failed:", res.status, body);
    Deno.exit(1);
  }
  console.log("smoke check ok:", JSON.stringify(body));
}

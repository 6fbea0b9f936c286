/**
 * MQTT with lunet/mqtt: a sensor publisher task and a subscriber task in
 * one program, through the broker at LUNET_MQTT_URL (default
 * mqtt://127.0.0.1:1883, Mosquitto on these machines).
 *
 * - The sensor publishes a temperature reading every second to
 *   `lunet/example/sensors/<id>/temp` at QoS 1, and announces itself
 *   `online` (retained) with a will message that says `offline` if it
 *   vanishes without a goodbye.
 * - The monitor subscribes to `lunet/example/sensors/+/#` and prints what
 *   arrives.
 *
 * Run:  deno run -A examples/07_mqtt.ts      (Ctrl-C stops it)
 * Try:  mosquitto_sub -t 'lunet/example/#' -v
 * With `--smoke` (or LUNET_SMOKE=1) it sends five readings, checks that the
 * monitor got them, and exits.
 */
import { scope, spawn } from "../mod.ts";
import { sleep } from "../src/sleep.ts";
import { connect } from "../src/mqtt/mod.ts";
import { handleShutdownSignals, onShutdown } from "../src/signal.ts";

const url = Deno.env.get("LUNET_MQTT_URL") ?? "mqtt://127.0.0.1:1883";
const smoke = Deno.args.includes("--smoke") || Deno.env.get("LUNET_SMOKE") === "1";
const id = `t${crypto.randomUUID().slice(0, 6)}`;
const base = "lunet/example/sensors";
const readings = smoke ? 5 : Infinity;

const monitor = await connect(url, { protocolVersion: 5, timeout: 5000 });
const sub = await monitor.subscribe(`${base}/${id}/#`, { qos: 1 });
const sensor = await connect(url, {
  protocolVersion: 5,
  timeout: 5000,
  will: { topic: `${base}/${id}/status`, payload: "offline", qos: 1, retain: true },
});
// Ctrl-C: stop the sensor loop, end the subscription, say goodbye, exit.
let stopping = false;
const finished = Promise.withResolvers<void>();
if (!smoke) {
  onShutdown(async () => {
    stopping = true;
    await sub.unsubscribe();
    await finished.promise;
  });
  handleShutdownSignals({ timeout: 3000 });
}
console.log(`sensor ${id} and monitor connected to ${url}`);

const seen: string[] = [];
await scope(async () => {
  const watcher = spawn(async () => {
    for await (const msg of sub) {
      const line = `${msg.topic} ${new TextDecoder().decode(msg.payload)}`;
      console.log(`monitor: ${line}${msg.retain ? " (retained)" : ""}`);
      seen.push(line);
      if (seen.filter((l) => l.includes("/temp ")).length >= readings) return;
    }
  }, { name: "monitor" });
  await sensor.publish(`${base}/${id}/status`, "online", { qos: 1, retain: true });
  for (let n = 0; n < readings && !stopping; n++) {
    const celsius = (20 + Math.sin(n / 3) * 2).toFixed(2);
    await sensor.publish(`${base}/${id}/temp`, celsius, {
      qos: 1,
      properties: { contentType: "text/plain", userProperties: { unit: "C" } },
    });
    await sleep(smoke ? 50 : 1000);
  }
  await watcher;
});

// A polite goodbye: clear the retained status, so no will is published.
await sensor.publish(`${base}/${id}/status`, "", { qos: 1, retain: true });
await sensor.close();
await monitor.close();
finished.resolve();

if (smoke) {
  const temps = seen.filter((l) => l.includes("/temp "));
  if (temps.length !== 5 || !seen[0].endsWith("/status online")) {
    console.error("smoke check failed:", seen);
    Deno.exit(1);
  }
  console.log("smoke check ok: status and five readings went through the broker");
}

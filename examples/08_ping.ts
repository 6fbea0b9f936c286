/**
 * A ping tool with lunet/icmp: ICMP echo over an unprivileged datagram
 * socket where `net.ipv4.ping_group_range` allows it, else a raw socket
 * (root). Needs `--allow-ffi` (and `--allow-net`).
 *
 * Run:  deno run -A examples/08_ping.ts 127.0.0.1
 *       deno run -A examples/08_ping.ts ::1 --count 3 --interval 200
 * With `--smoke` it pings 127.0.0.1 twice and exits non-zero on a loss.
 */
import { ping } from "../src/icmp.ts";
import { open } from "../src/icmp.ts";

const args = [...Deno.args];
const smoke = args.includes("--smoke");
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args.splice(i, 2)[1]) : fallback;
};
const count = option("count", smoke ? 2 : 4);
const interval = option("interval", smoke ? 50 : 1000);
const timeout = option("timeout", 1000);
const size = option("size", 56);
const host = args.find((a) => !a.startsWith("--")) ?? "127.0.0.1";

const kind = (() => {
  try {
    using probe = open(host.includes(":") ? 6 : 4);
    return probe.kind;
  } catch {
    return "?";
  }
})();
console.log(`PING ${host}: ${size} data bytes (${kind} ICMP socket)`);
const result = await ping(host, { count, interval, timeout, size });
for (const p of result.probes) {
  const ttl = p.ttl !== undefined ? ` ttl=${p.ttl}` : "";
  console.log(
    p.rtt === null
      ? `no reply from ${result.address}: icmp_seq=${p.sequence}`
      : `${size + 8} bytes from ${result.address}: icmp_seq=${p.sequence}${ttl} time=${
        p.rtt.toFixed(3)
      } ms`,
  );
}
const ms = (n: number | null) => (n === null ? "-" : n.toFixed(3));
console.log(`--- ${host} ping statistics ---`);
console.log(
  `${result.transmitted} packets transmitted, ${result.received} received, ` +
    `${Math.round(result.loss * 100)}% packet loss`,
);
if (result.received > 0) {
  console.log(
    `rtt min/avg/max/mdev = ${ms(result.min)}/${ms(result.avg)}/${ms(result.max)}/${
      ms(result.mdev)
    } ms`,
  );
}
if (result.received < result.transmitted && smoke) Deno.exit(1);
Deno.exit(result.received > 0 ? 0 : 1);

/**
 * lunet/icmp on real sockets: pings to 127.0.0.1 and ::1, the unprivileged
 * datagram socket and a filtered address inside network namespaces this
 * test makes (`unshare -n`, where `ping_group_range` and
 * `icmp_echo_ignore_all` are the namespace's own), and the permission
 * errors: without `--allow-ffi`, and as an unprivileged user whose group
 * the sysctl does not admit.
 */
import assert from "node:assert/strict";
import { spawn } from "../mod.ts";
import { type IcmpSocket, open, ping } from "../src/icmp.ts";
import { noLeaks } from "./leak.ts";

const root = Deno.uid() === 0;
const module = new URL("../src/icmp.ts", import.meta.url).href;

async function works(cmd: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}
const namespaces = root && await works("unshare", ["-n", "true"]) &&
  await works("ip", ["-V"]) && await works("sysctl", ["-V"]) && await works("setpriv", ["-V"]);
const why = namespaces
  ? ""
  : " (skipped: needs root, and unshare, ip, sysctl and setpriv for a network namespace)";

/**
 * Runs `code` (which pings with the module imported as `icmp` and prints
 * JSON) in a fresh network namespace after `setup` (shell commands there),
 * optionally as the user nobody; returns the printed value.
 */
async function isolated(
  code: string,
  setup: string,
  { nobody = false, flags = ["--allow-ffi", "--allow-net", "--allow-read"] } = {},
): Promise<unknown> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.chmod(dir, 0o777);
    const script = `${dir}/probe.ts`;
    await Deno.writeTextFile(
      script,
      `import * as icmp from ${JSON.stringify(module)};\n` +
        `try { console.log(JSON.stringify(await (async () => { ${code} })())); }\n` +
        `catch (e) { console.log(JSON.stringify({ error: e.name, code: e.code, message: e.message })); }\n`,
    );
    const deno = [Deno.execPath(), "run", "--no-config", "--no-lock", ...flags, script];
    const run = nobody
      ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...deno]
      : deno;
    const quoted = run.map((a) => `'${a}'`).join(" ");
    const out = await new Deno.Command("unshare", {
      args: ["-n", "sh", "-c", `ip link set lo up && ${setup} && ${quoted}`],
      env: { DENO_DIR: `${dir}/cache`, HOME: dir, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout).trim();
    assert.ok(stdout, new TextDecoder().decode(out.stderr));
    return JSON.parse(stdout.split("\n").at(-1)!);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const host of ["127.0.0.1", "::1"]) {
  Deno.test(
    `ping ${host}: every probe answered, RTTs and a summary`,
    noLeaks(async () => {
      const r = await ping(host, { count: 3, interval: 20, timeout: 1000 });
      assert.equal(r.address, host);
      assert.equal(r.family, host.includes(":") ? 6 : 4);
      assert.equal(r.transmitted, 3);
      assert.equal(r.received, 3);
      assert.equal(r.loss, 0);
      assert.deepEqual(r.probes.map((p) => p.sequence), [1, 2, 3]);
      for (const p of r.probes) assert.ok(p.rtt !== null && p.rtt >= 0 && p.rtt < 1000);
      assert.ok(r.min! <= r.avg! && r.avg! <= r.max!);
      assert.ok(r.mdev! >= 0);
    }),
  );
}

Deno.test(
  "ping resolves a name",
  noLeaks(async () => {
    const r = await ping("localhost", { count: 1, family: 4 });
    assert.equal(r.address, "127.0.0.1");
    assert.equal(r.received, 1);
  }),
);

Deno.test(
  "IcmpSocket: echo request and reply with identifier and sequence",
  noLeaks(async () => {
    using sock = open(4);
    const payload = new TextEncoder().encode("lunet icmp");
    await sock.send("127.0.0.1", 4242, payload);
    const reply = await sock.recv({ timeout: 1000 });
    assert.equal(reply.from, "127.0.0.1");
    assert.equal(reply.type, 0);
    assert.equal(reply.sequence, 4242);
    assert.equal(reply.identifier, sock.identifier);
    assert.deepEqual(reply.payload, payload);
    sock.setTtl(64);
    await assert.rejects(sock.send("::1", 1), TypeError);
    await assert.rejects(sock.send("127.0.0.1", 70000), RangeError);
  }),
);

Deno.test(
  "IcmpSocket: recv times out, is cancelled, and wakes on close",
  noLeaks(async () => {
    const sock: IcmpSocket = open(6);
    await assert.rejects(sock.recv({ timeout: 50 }), { code: "timeout" });
    const waiter = spawn(() => sock.recv());
    await new Promise((r) => setTimeout(r, 20));
    waiter.cancel();
    await assert.rejects(Promise.resolve(waiter), { code: "cancelled" });
    // A reply that arrives after an early wake is still there for the next recv.
    await sock.send("::1", 9);
    assert.equal((await sock.recv({ timeout: 1000 })).sequence, 9);
    const parked = sock.recv();
    sock.close();
    await assert.rejects(parked, { code: "closed" });
    await assert.rejects(sock.send("::1", 1), { code: "closed" });
  }),
);

Deno.test(`the unprivileged datagram socket, IPv4 and IPv6${why}`, {
  ignore: !namespaces,
}, async () => {
  const r = await isolated(
    `const a = await icmp.ping("127.0.0.1", { count: 2, interval: 10, kind: "dgram" });
     const b = await icmp.ping("::1", { count: 2, interval: 10, kind: "dgram" });
     return [a.kind, a.received, b.kind, b.received];`,
    `sysctl -qw net.ipv4.ping_group_range="0 2147483647"`,
  );
  assert.deepEqual(r, ["dgram", 2, "dgram", 2]);
});

Deno.test(`a filtered address: every probe times out${why}`, { ignore: !namespaces }, async () => {
  const r = await isolated(
    `const r = await icmp.ping("127.0.0.1", { count: 2, interval: 10, timeout: 200 });
     return [r.transmitted, r.received, r.loss, r.probes.map((p) => p.rtt)];`,
    `sysctl -qw net.ipv4.icmp_echo_ignore_all=1`,
  );
  assert.deepEqual(r, [2, 0, 1, [null, null]]);
});

Deno.test(`permission denied names the sysctl${why}`, { ignore: !namespaces }, async () => {
  const r = await isolated(
    `return await icmp.ping("127.0.0.1", { count: 1 });`,
    `sysctl -qw net.ipv4.ping_group_range="1 0"`,
    { nobody: true },
  ) as { error: string; code: string; message: string };
  assert.equal(r.error, "PermissionDenied");
  assert.equal(r.code, "permission_denied");
  assert.match(r.message, /net\.ipv4\.ping_group_range \(now "1 0"/);
  assert.match(r.message, /group id 65534/);
  assert.match(r.message, /raw ICMP socket needs root or CAP_NET_RAW/);
});

Deno.test("without --allow-ffi, ping says that ICMP needs it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/probe.ts`;
    await Deno.writeTextFile(
      script,
      `import { ping } from ${JSON.stringify(module)};\n` +
        `await ping("127.0.0.1").catch((e) => console.log(e.name + ": " + e.message));\n`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", "--no-lock", "--allow-net", "--allow-read", script],
      env: { NO_COLOR: "1" },
      stdout: "piped",
    }).output();
    const line = new TextDecoder().decode(out.stdout).trim();
    assert.match(line, /^PermissionDenied: ping 127\.0\.0\.1: ICMP needs the ffi backend/);
    assert.match(line, /--allow-ffi/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(`a traceroute: TTL 1 meets the router's time exceeded, TTL 2 the echo reply${why}`, {
  ignore: !namespaces,
}, async () => {
  // Three namespaces of the test's own: client — router — target, on
  // documentation addresses that exist only inside them.
  const n = `lt${crypto.randomUUID().slice(0, 6)}`;
  const sh = (script: string) => new Deno.Command("sh", { args: ["-ec", script] }).output();
  const setup = `
    for x in c r t; do ip netns add ${n}$x; ip -n ${n}$x link set lo up; done
    ip link add ${n}a type veth peer name ${n}b
    ip link add ${n}x type veth peer name ${n}y
    ip link set ${n}a netns ${n}c; ip link set ${n}b netns ${n}r
    ip link set ${n}x netns ${n}r; ip link set ${n}y netns ${n}t
    ip -n ${n}c addr add 192.0.2.1/24 dev ${n}a; ip -n ${n}r addr add 192.0.2.2/24 dev ${n}b
    ip -n ${n}r addr add 198.51.100.1/24 dev ${n}x; ip -n ${n}t addr add 198.51.100.2/24 dev ${n}y
    ip -n ${n}c link set ${n}a up; ip -n ${n}r link set ${n}b up
    ip -n ${n}r link set ${n}x up; ip -n ${n}t link set ${n}y up
    ip -n ${n}c route add default via 192.0.2.2; ip -n ${n}t route add default via 198.51.100.1
    ip netns exec ${n}r sysctl -qw net.ipv4.ip_forward=1`;
  const dir = await Deno.makeTempDir();
  try {
    const made = await sh(setup);
    assert.ok(made.success, new TextDecoder().decode(made.stderr));
    const script = `${dir}/trace.ts`;
    await Deno.writeTextFile(
      script,
      `import { open } from ${JSON.stringify(module)};
       const sock = open(4, { kind: "raw" });
       const hops = [];
       for (const ttl of [1, 2]) {
         sock.setTtl(ttl);
         await sock.send("198.51.100.2", ttl);
         const r = await sock.recv({ timeout: 2000 });
         hops.push([r.from, r.type, r.sequence, r.identifier === sock.identifier]);
       }
       sock.close();
       console.log(JSON.stringify(hops));`,
    );
    const out = await new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        `${n}c`,
        Deno.execPath(),
        "run",
        "--no-config",
        "--no-lock",
        "-A",
        script,
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout).trim();
    assert.ok(stdout, new TextDecoder().decode(out.stderr));
    assert.deepEqual(JSON.parse(stdout), [
      ["192.0.2.2", 11, 1, true],
      ["198.51.100.2", 0, 2, true],
    ]);
  } finally {
    await sh(`for x in c r t; do ip netns del ${n}$x 2>/dev/null || true; done`);
    await Deno.remove(dir, { recursive: true });
  }
});

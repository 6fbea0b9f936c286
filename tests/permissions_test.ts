/**
 * Deno's permissions hold on every socket backend: child processes run
 * with restricted flags and report what each socket operation did.
 */
import { deepEqual as assertEquals } from "node:assert/strict";
import { noLeaks } from "./leak.ts";

const FIXTURE = new URL("./fixtures/net_permission_child.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

async function run(flags: string[], args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, FIXTURE, ...args],
    cwd: ROOT,
    env: { DENO_NO_UPDATE_CHECK: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, stderr);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

// Two free ports: one to allow, one to refuse. Something listens on the
// refused one, so a connect that slipped through would succeed.
function ports(): { allowed: number; other: Deno.TcpListener } {
  const a = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const allowed = a.addr.port;
  a.close();
  return { allowed, other: Deno.listen({ hostname: "127.0.0.1", port: 0 }) };
}

function refused(op: string, port: number, flag = "net") {
  const host = `127.0.0.1:${port}`;
  return {
    code: "permission_denied",
    message: `${op} ${host}: permission denied (Requires ${flag} access to "${host}", ` +
      `run again with the --allow-${flag} flag)`,
  };
}

function expected(backend: string, other: number) {
  return {
    backend,
    listenOther: refused("listen", other),
    connectOther: refused("connect", other),
    bindOther: refused("bind", other),
    connectAllowed: "ok",
    sendAllowed: "ok",
    sendOther: refused("send", other),
  };
}

for (const backend of ["ffi", "deno", "default"]) {
  Deno.test(
    `permissions: with --allow-net=<one address>, the ${backend} backend refuses every other one`,
    noLeaks(async () => {
      const { allowed, other } = ports();
      try {
        const got = await run(
          ["--allow-ffi", `--allow-net=127.0.0.1:${allowed}`, "--allow-read"],
          ["net", backend, String(allowed), String(other.addr.port)],
        );
        const ran = backend === "default" ? "deno" : backend;
        assertEquals(got, expected(ran, other.addr.port));
      } finally {
        other.close();
      }
    }),
  );
}

Deno.test(
  "permissions: --allow-ffi without --allow-net does not pick the ffi backend",
  noLeaks(async () => {
    const { allowed, other } = ports();
    other.close();
    const got = await run(["--allow-ffi"], ["net", "default", String(allowed), String(allowed)]);
    assertEquals(got.backend, "deno");
    assertEquals(got.listenOther, refused("listen", allowed));
  }),
);

Deno.test(
  "permissions: LUNET_ALLOW_PUBLIC set without --allow-env is reported as unreadable",
  noLeaks(async () => {
    const got = await run(["--allow-net"], ["public"], { LUNET_ALLOW_PUBLIC: "1" });
    assertEquals(got, {
      code: "permission_denied",
      message: "listen 0.0.0.0:0: not a loopback address; pass { dangerouslyAllowPublic: true }, " +
        "or set LUNET_ALLOW_PUBLIC=1 and let it be read: LUNET_ALLOW_PUBLIC could not be read " +
        "(reading it needs --allow-env=LUNET_ALLOW_PUBLIC)",
    });
  }),
);

for (const backend of ["ffi", "deno"]) {
  Deno.test(
    `permissions: the ${backend} backend needs read and write access to connect to a Unix path`,
    noLeaks(async () => {
      const path = "/tmp/lunet-no-such.sock";
      const refusal = (flag: string) => ({
        code: "permission_denied",
        message: `connect ${path}: permission denied (Requires ${flag} access to "${path}", ` +
          `run again with the --allow-${flag} flag)`,
      });
      const net = ["--allow-ffi", "--allow-net"];
      assertEquals(await run(net, ["unix", backend, path]), refusal("read"));
      assertEquals(await run([...net, "--allow-read"], ["unix", backend, path]), refusal("write"));
    }),
  );
}

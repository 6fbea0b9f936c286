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
    `permissions: the ${backend} backend needs net access to unix:<path>, and read and write access to it, for a Unix socket`,
    noLeaks(async () => {
      const path = "/tmp/lunet-no-such.sock";
      const refusal = (op: string, flag: string) => {
        const target = flag === "net" ? `unix:${path}` : path;
        const what = op === "bind" ? `unix:${path}` : path; // how udp names a Unix path
        return {
          code: "permission_denied",
          message: `${op} ${what}: permission denied (Requires ${flag} access to "${target}", ` +
            `run again with the --allow-${flag} flag)`,
        };
      };
      const files = ["--allow-ffi", "--allow-read", "--allow-write"];
      for (const op of ["connect", "listen", "bind"]) {
        assertEquals(await run(files, ["unix", backend, path, op]), refusal(op, "net"));
      }
      const net = ["--allow-ffi", "--allow-net"];
      assertEquals(await run(net, ["unix", backend, path]), refusal("connect", "read"));
      assertEquals(
        await run([...net, "--allow-read"], ["unix", backend, path]),
        refusal("connect", "write"),
      );
      assertEquals(
        await run([...files, `--allow-net=unix:${path}`], ["unix", backend, path, "listen"]),
        "ok",
      );
    }),
  );
}

Deno.test(
  "permissions: a driver refused by a missing permission fails with PermissionDenied",
  noLeaks(async (t) => {
    const refusal = (what: string, flag: string, target: string) => ({
      name: "PermissionDenied",
      code: "permission_denied",
      message: `${what}: permission denied (Requires ${flag} access to "${target}", ` +
        `run again with the --allow-${flag} flag)`,
    });
    const base = ["--allow-env", "--allow-read", "--allow-sys"];
    for (
      const [driver, url, label, target] of [
        ["postgres", "postgres://postgres@127.0.0.1:5432/test", "postgres", "127.0.0.1:5432/test"],
        ["mysql", "mysql://root@127.0.0.1:3306/test", "mysql", "127.0.0.1:3306/test"],
      ]
    ) {
      await t.step(`${driver} without --allow-net`, async () => {
        const host = target.slice(0, target.indexOf("/"));
        assertEquals(
          await run(base, ["db", driver, url]),
          refusal(`connect ${label} ${target}`, "net", host),
        );
      });
    }
    await t.step("redis without --allow-net", async () => {
      assertEquals(
        await run(base, ["db", "redis", "redis://127.0.0.1:6379"]),
        refusal("redis 127.0.0.1:6379/0: connect", "net", "127.0.0.1:6379"),
      );
    });
    const file = await Deno.makeTempFile({ suffix: ".db" });
    try {
      for (const engine of ["ffi", "worker"]) {
        await t.step(
          `sqlite (${engine} engine) without --allow-read, then --allow-write`,
          async () => {
            const env = { LUNET_SQLITE_ENGINE: engine };
            const what = `connect sqlite ${file}`;
            // The worker engine's module is read from the tree.
            const read = engine === "worker" ? [`--allow-read=${ROOT}`] : [];
            assertEquals(
              await run(["--allow-env", "--allow-ffi", ...read], ["db", "sqlite", file], env),
              refusal(what, "read", file),
            );
            assertEquals(
              await run(
                ["--allow-env", "--allow-ffi", "--allow-read"],
                ["db", "sqlite", file],
                env,
              ),
              refusal(what, "write", file),
            );
          },
        );
      }
      await t.step("sqlite (worker engine) refused its own module", async () => {
        const env = { LUNET_SQLITE_ENGINE: "worker" };
        const worker = new URL("../drivers/_sqlite_worker.ts", import.meta.url).pathname;
        assertEquals(
          await run(["--allow-env", "--allow-ffi"], ["db", "sqlite", file], env),
          refusal(`sqlite ${file}: worker failed`, "read", worker),
        );
      });
    } finally {
      await Deno.remove(file);
    }
  }),
);

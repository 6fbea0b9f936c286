/**
 * Node.js 22 and the npm packages the MCP conformance run and the MCP
 * benchmark's peer need, installed once into a tools folder outside the
 * repository (`LUNET_TOOLS_DIR`, by default `~/.cache/lunet/tools`) with
 * the system's npm: `node@22` ships the Node binary as an npm package.
 * Idempotent and quiet: a folder that already has them is used as is.
 *
 * @example
 * ```ts ignore
 * import { nodeTools } from "./_node_tools.ts";
 * const { node, dir } = await nodeTools();
 * ```
 * @module
 */

/** The packages installed, pinned. */
export const PACKAGES: readonly string[] = [
  "node@22",
  "@modelcontextprotocol/conformance@0.1.16",
  "@modelcontextprotocol/sdk@1.32.2",
];

/** Where the tools are. */
export interface NodeTools {
  /** The tools folder (its `node_modules` holds the packages). */
  dir: string;
  /** The Node 22 binary. */
  node: string;
}

/** The tools folder. */
export function toolsDir(): string {
  const home = Deno.env.get("HOME") ?? "/tmp";
  return Deno.env.get("LUNET_TOOLS_DIR") || `${home}/.cache/lunet/tools`;
}

async function run(
  cmd: string,
  args: string[],
  cwd?: string,
): Promise<{ ok: boolean; out: string }> {
  try {
    const { success, stdout, stderr } = await new Deno.Command(cmd, {
      args,
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    return { ok: success, out: text };
  } catch (err) {
    return { ok: false, out: String(err) };
  }
}

async function installed(dir: string): Promise<boolean> {
  const node = `${dir}/node_modules/.bin/node`;
  const version = await run(node, ["--version"]);
  if (!version.ok || !version.out.startsWith("v22.")) return false;
  try {
    const pkg = JSON.parse(
      await Deno.readTextFile(`${dir}/node_modules/@modelcontextprotocol/conformance/package.json`),
    );
    await Deno.stat(`${dir}/node_modules/@modelcontextprotocol/sdk/package.json`);
    return pkg.version === "0.1.16";
  } catch {
    return false;
  }
}

/** Installs the tools when missing; returns where they are. */
export async function nodeTools(): Promise<NodeTools> {
  const dir = toolsDir();
  if (!(await installed(dir))) {
    await Deno.mkdir(dir, { recursive: true });
    const npm = await run("npm", [
      "install",
      "--prefix",
      dir,
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      ...PACKAGES,
    ]);
    if (!npm.ok || !(await installed(dir))) {
      throw new Error(`installing ${PACKAGES.join(" ")} into ${dir} failed:\n${npm.out}`);
    }
  }
  return { dir, node: `${dir}/node_modules/.bin/node` };
}

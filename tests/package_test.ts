/**
 * Package hygiene: what a user installs and reads. Every entry point's
 * rendered docs show only what users call, and the import map holds only
 * packages the published modules import.
 */
import assert from "node:assert/strict";

const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
const entries: Record<string, string> = config.exports;

async function docNodes(entry: string): Promise<unknown> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", entry],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** Every `@internal` tag or "@internal" doc text found in a doc tree. */
function internals(node: unknown, path: string[] = [], found: string[] = []): string[] {
  if (Array.isArray(node)) {
    node.forEach((n, i) => internals(n, [...path, String(i)], found));
  } else if (node && typeof node === "object") {
    const rec = node as Record<string, unknown>;
    const name = typeof rec.name === "string" ? rec.name : undefined;
    const where = name ? [...path, name] : path;
    if (typeof rec.doc === "string" && /@internal\b/.test(rec.doc)) found.push(where.join("."));
    if (rec.kind === "internal" || rec.kind === "unsupported") found.push(where.join("."));
    for (const [k, v] of Object.entries(rec)) {
      if (k !== "location") internals(v, where, found);
    }
  }
  return found;
}

for (const [specifier, file] of Object.entries(entries)) {
  Deno.test(`deno doc of ${specifier} shows no internal member`, async () => {
    const found = internals(await docNodes(file));
    assert.deepEqual(found, [], `${file} documents internals: ${found.join(", ")}`);
  });
}

Deno.test("the import map holds only packages that published modules import", async () => {
  const imports: Record<string, string> = config.imports ?? {};
  const sources: string[] = [];
  for (const dir of ["src", "drivers"]) {
    for await (const file of walk(new URL(`../${dir}/`, import.meta.url))) {
      sources.push(await Deno.readTextFile(file));
    }
  }
  const all = sources.join("\n");
  for (const name of Object.keys(imports)) {
    assert.ok(
      all.includes(`from "${name}"`) || all.includes(`import("${name}")`) ||
        all.includes(`from "${name}/`),
      `${name} is in deno.json imports but no module under src/ or drivers/ imports it`,
    );
  }
});

async function* walk(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* walk(url);
    else if (entry.name.endsWith(".ts")) yield url;
  }
}

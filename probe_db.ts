import * as sqlite from "./drivers/sqlite.ts";
const db = await sqlite.open(":memory:");
const show = (label: string, v: unknown) => console.log(label, Deno.inspect(v, { depth: 4 }));
for (const [sql, ...params] of [
  ["SELECT 9223372036854775807 AS v"],
  ["SELECT ? AS v", 9007199254740993n],
  ["SELECT ? AS v", 2 ** 60],
  ["SELECT ? AS v", -0],
  ["SELECT ? AS v", NaN],
  ["SELECT ? AS v", Infinity],
  ["SELECT ? AS v", "a\u0000b"],
  ["SELECT ? AS v", new Uint8Array([0, 255])],
  ["SELECT ? AS v", new Date("2024-02-29T12:00:00.123Z")],
  ["SELECT ? AS v", true],
  ["SELECT ? AS v", "\ud800"],
  ["SELECT x'ff' AS v"],
  ["SELECT CAST(x'ff' AS TEXT) AS v"],
  ["SELECT 1e999 AS v"],
  ["SELECT ? AS v", { a: 1 }],
  ["SELECT ? AS v", [1, 2]],
  ["SELECT ? AS v", undefined],
  ["SELECT ?1 + ?1 AS v", 2],
  ["SELECT :a AS v", 2],
  ["SELECT ? AS v"],
  ["SELECT ? AS v", 1, 2],
  ["SELECT 1 AS v; SELECT 2 AS v"],
  [""],
  ["   "],
  ["-- c"],
] as [string, ...unknown[]][]) {
  try { show(`${sql} ${Deno.inspect(params)}`, (await db.query(sql, ...params as never[]))); } catch (e) { show(`${sql} ${Deno.inspect(params)} ERR`, String(e)); }
}
await db.close();

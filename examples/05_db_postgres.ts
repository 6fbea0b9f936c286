/**
 * PostgreSQL CRUD demo. Connection from `LUNET_POSTGRES_URL`, default
 * `postgres://postgres@127.0.0.1:5432/test`. Inserted ids come from
 * `RETURNING id`. Run with `deno task smoke:postgres`.
 *
 * @module
 */
import * as postgres from "../drivers/postgres.ts";
import { readEnv } from "../src/_env.ts";
import { crud } from "./db_crud.ts";

const db = await postgres.open(
  readEnv("LUNET_POSTGRES_URL") ?? "postgres://postgres@127.0.0.1:5432/test",
);
try {
  await crud(db, { autoId: "SERIAL PRIMARY KEY", ph: (i) => `$${i}`, returning: " RETURNING id" });
} finally {
  await db.close();
}

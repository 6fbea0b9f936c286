/**
 * SQLite CRUD demo: queries run in worker threads, so the event loop stays
 * free. Run with `deno task smoke:sqlite`.
 *
 * @module
 */
import * as sqlite from "../drivers/sqlite.ts";
import { crud } from "./db_crud.ts";

const db = await sqlite.open(":memory:");
try {
  await crud(db, { autoId: "INTEGER PRIMARY KEY", ph: () => "?", returning: "" });
} finally {
  await db.close();
}

/**
 * MySQL/MariaDB CRUD demo. Connection from `LUNET_MYSQL_URL`, default
 * `mysql://root@127.0.0.1:3306/test`. Run with `deno task smoke:mysql`.
 *
 * @module
 */
import * as mysql from "../drivers/mysql.ts";
import { readEnv } from "../src/_env.ts";
import { crud } from "./db_crud.ts";

const db = await mysql.open(readEnv("LUNET_MYSQL_URL") ?? "mysql://root@127.0.0.1:3306/test");
try {
  await crud(db, { autoId: "INT AUTO_INCREMENT PRIMARY KEY", ph: () => "?", returning: "" });
} finally {
  await db.close();
}

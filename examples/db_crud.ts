/**
 * The CRUD walk-through shared by the database examples (03, 04, 05):
 * create a table, insert with parameters, select, filter, update, delete,
 * and a transaction that rolls back. Only placeholders and DDL differ
 * between drivers.
 *
 * @module
 */
import type { Db } from "../drivers/_types.ts";

/** What differs between the drivers in this walk-through. */
export interface Dialect {
  /** The auto-increment primary key column type. */
  autoId: string;
  /** Placeholder number `i` (1-based): `?` or `$i`. */
  ph(i: number): string;
  /** Appended to INSERT so `lastInsertId` is filled (PostgreSQL: `RETURNING id`). */
  returning: string;
}

/** Runs the walk-through on `db`, printing each step, and drops its table. */
export async function crud(db: Db, d: Dialect): Promise<void> {
  const table = "lunet_demo_users";
  await db.exec(`DROP TABLE IF EXISTS ${table}`);
  await db.exec(`CREATE TABLE ${table} (id ${d.autoId}, name TEXT NOT NULL, age INT)`);
  try {
    for (const [name, age] of [["alice", 30], ["bob", 25], ["carol", null]] as const) {
      const r = await db.exec(
        `INSERT INTO ${table} (name, age) VALUES (${d.ph(1)}, ${d.ph(2)})${d.returning}`,
        name,
        age,
      );
      console.log(`insert ${name}: lastInsertId=${r.lastInsertId}`);
    }
    console.log("all:", await db.query(`SELECT id, name, age FROM ${table} ORDER BY id`));
    console.log(
      "age > 26:",
      await db.query(`SELECT name FROM ${table} WHERE age > ${d.ph(1)}`, 26),
    );
    const up = await db.exec(`UPDATE ${table} SET age = ${d.ph(1)} WHERE age IS NULL`, 41);
    console.log(`update: affectedRows=${up.affectedRows}`);
    const del = await db.exec(`DELETE FROM ${table} WHERE name = ${d.ph(1)}`, "bob");
    console.log(`delete: affectedRows=${del.affectedRows}`);
    await db.transaction(async (tx) => {
      await tx.exec(`UPDATE ${table} SET age = age + 1`);
      throw new Error("changed my mind");
    }).catch((err) => console.log(`transaction rolled back: ${err.message}`));
    await db.transaction(async (tx) => {
      await tx.exec(`INSERT INTO ${table} (name, age) VALUES (${d.ph(1)}, ${d.ph(2)})`, "dave", 52);
    });
    console.log(
      "after transactions:",
      await db.query(`SELECT name, age FROM ${table} ORDER BY id`),
    );
  } finally {
    await db.exec(`DROP TABLE ${table}`);
  }
}

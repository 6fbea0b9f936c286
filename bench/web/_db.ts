/**
 * The benchmark's database: a PostgreSQL database of its own with the
 * TechEmpower tables, `world` (10 000 rows of random numbers) and
 * `fortune` (the 12 standard messages), created fresh and dropped after
 * the run.
 *
 * @module
 */
import * as postgres from "../../drivers/postgres.ts";
import { WORLD_ROWS } from "./_tfb.ts";

const FORTUNES = [
  "fortune: No such file or directory",
  "A computer scientist is someone who fixes things that aren't broken.",
  "After enough decimal places, nobody gives a damn.",
  "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
  "A computer program does what you tell it to do, not what you want it to do.",
  "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
  "Any program that runs right is obsolete.",
  "A list is only as strong as its weakest link. — Donald Knuth",
  "Feature: A bug with seniority.",
  "Computers make very fast, very accurate mistakes.",
  '<script>alert("This should not be displayed in a browser alert box.");</script>',
  "フレームワークのベンチマーク",
];

/** Runs `sql` on the server's maintenance database `adminUrl` names. */
async function admin(adminUrl: string, sql: string): Promise<void> {
  const db = await postgres.open({ url: adminUrl, pool: 1 });
  try {
    await db.exec(sql);
  } finally {
    await db.close();
  }
}

/** `adminUrl` with its database name replaced by `name`. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.href;
}

/**
 * Creates database `name` (dropping a leftover one) with the TechEmpower
 * tables; returns its URL.
 */
export async function createTfbDatabase(adminUrl: string, name: string): Promise<string> {
  await admin(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(adminUrl, `CREATE DATABASE ${name}`);
  const url = databaseUrl(adminUrl, name);
  const db = await postgres.open({ url, pool: 1 });
  try {
    await db.exec(
      "CREATE TABLE world (id integer PRIMARY KEY, randomnumber integer NOT NULL DEFAULT 0)",
    );
    await db.exec(
      "INSERT INTO world (id, randomnumber) " +
        `SELECT i, 1 + floor(random() * ${WORLD_ROWS})::int FROM generate_series(1, ${WORLD_ROWS}) i`,
    );
    await db.exec("CREATE TABLE fortune (id integer PRIMARY KEY, message varchar(2048) NOT NULL)");
    for (const [i, message] of FORTUNES.entries()) {
      await db.exec("INSERT INTO fortune (id, message) VALUES ($1, $2)", i + 1, message);
    }
    await db.exec("VACUUM ANALYZE world");
    await db.exec("VACUUM ANALYZE fortune");
  } finally {
    await db.close();
  }
  return url;
}

/** Creates an empty database `name` (dropping a leftover one); returns its URL. */
export async function createEmptyDatabase(adminUrl: string, name: string): Promise<string> {
  await admin(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(adminUrl, `CREATE DATABASE ${name}`);
  return databaseUrl(adminUrl, name);
}

/** Drops database `name`. */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await admin(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

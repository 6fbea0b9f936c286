/**
 * The database side of the TechEmpower-type tests, on either driver: a
 * random World row, the Fortune table, and the batched update — through
 * lunet/postgres or straight through `npm:postgres`. Both use prepared
 * statements and a pool of the given size.
 *
 * @module
 */
import { randomId, updateParams, updateSql } from "./_tfb.ts";

/** One World row as answered. */
export interface World {
  id: number;
  randomNumber: number;
}

/** What the handlers need from the database. */
export interface Worlds {
  /** A random World row. */
  world(): Promise<World>;
  /** Every Fortune row. */
  fortunes(): Promise<{ id: number; message: string }[]>;
  /** Stores the rows' numbers in one statement. */
  update(list: World[]): Promise<void>;
  /** Closes the pool. */
  close(): Promise<void>;
}

const WORLD = "SELECT id, randomnumber FROM world WHERE id = $1";
const FORTUNES = "SELECT id, message FROM fortune";

/** The queries on lunet/postgres (`pipeline`: its depth, else its default). */
export async function lunetWorlds(url: string, pool: number, pipeline?: number): Promise<Worlds> {
  const postgres = await import("../../drivers/postgres.ts");
  const db = await postgres.open({ url, pool, pipeline });
  return {
    async world() {
      const row = await db.queryOne<{ id: number; randomnumber: number }>(WORLD, randomId());
      return { id: row!.id, randomNumber: row!.randomnumber };
    },
    fortunes: () => db.query<{ id: number; message: string }>(FORTUNES),
    async update(list) {
      await db.exec(updateSql(list.length), ...updateParams(list));
    },
    close: () => db.close(),
  };
}

/** The same queries straight on `npm:postgres`. */
export async function npmWorlds(url: string, pool: number): Promise<Worlds> {
  const { default: postgres } = await import("npm:postgres@^3.4");
  const sql = postgres(url, { max: pool, onnotice: () => {} });
  return {
    async world() {
      const [row] = await sql.unsafe(WORLD, [randomId()], { prepare: true });
      return { id: row.id, randomNumber: row.randomnumber };
    },
    fortunes: async () => [
      ...await sql.unsafe<{ id: number; message: string }[]>(FORTUNES, [], { prepare: true }),
    ],
    async update(list) {
      await sql.unsafe(updateSql(list.length), updateParams(list), { prepare: true });
    },
    close: () => sql.end(),
  };
}

/**
 * Opens `count` `npm:postgres` connections, one per client, that run
 * `SELECT 1` and then stay idle for the life of the process.
 */
export async function idleConnections(url: string, count: number): Promise<void> {
  const { default: postgres } = await import("npm:postgres@^3.4");
  for (let i = 0; i < count; i++) {
    await postgres(url, { max: 1, onnotice: () => {} }).unsafe("SELECT 1");
  }
}

/** `n` random World rows, read one statement each, concurrently. */
export function worlds(db: Worlds, n: number): Promise<World[]> {
  const out: Promise<World>[] = [];
  for (let i = 0; i < n; i++) out.push(db.world());
  return Promise.all(out);
}

/**
 * The database API shared by `lunet/sqlite`, `lunet/mysql` and
 * `lunet/postgres`: the {@linkcode Db} and {@linkcode Queryable} types, the
 * parameter-count check, the mapping of driver errors to
 * {@linkcode DbError}, and the connection pool with transactions and
 * cancellation that every driver plugs a {@linkcode Connector} into.
 *
 * @example
 * ```ts ignore
 * import type { Db } from "./common.ts";
 * async function count(db: Db): Promise<number> {
 *   const row = await db.queryOne<{ n: number }>("SELECT COUNT(*) AS n FROM users");
 *   return row?.n ?? 0;
 * }
 * ```
 * @module
 */
export type { WaitOptions } from "../src/_wait.ts";
export type {
  Connector,
  Db,
  Dialect,
  ExecResult,
  Kind,
  PoolOptions,
  Queryable,
  ResolvedServerConfig,
  Row,
  ServerConfig,
  Sql,
  Statement,
  TransactionOptions,
} from "./_types.ts";
export { checkParams, countPlaceholders, parseInteger, toBytes } from "./_params.ts";
export { toDbError } from "./_errors.ts";
export { Pool } from "./_pool.ts";
export { PooledDb } from "./_pooled_db.ts";
export { resolveServerConfig } from "./_config.ts";

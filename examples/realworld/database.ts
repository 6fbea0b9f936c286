/**
 * The app's database: SQLite (a file, the default) or PostgreSQL (a
 * `postgres://` URL), behind one small interface. SQL is written once with
 * `?` placeholders; on PostgreSQL each is rewritten to `$1`, `$2`, … (the
 * app's SQL has no `?` inside string literals). Every value is bound by
 * the driver, never spliced into the text.
 *
 * @module
 */
import * as sqlite from "../../drivers/sqlite.ts";
import type { Db, ExecResult, Queryable, Row } from "../../drivers/sqlite.ts";
import { DbError } from "../../mod.ts";

/** Which SQL dialect a {@linkcode Store} speaks. */
export type Dialect = "sqlite" | "postgres";

/**
 * Runs the app's SQL on either database.
 *
 * @example
 * ```ts
 * import { openStore } from "./database.ts";
 * const store = await openStore(":memory:");
 * const row = await store.queryOne<{ n: number }>("SELECT ? + 1 AS n", 41);
 * if (row?.n !== 42) throw new Error("expected 42");
 * await store.close();
 * ```
 */
export class Store {
  /** The dialect. */
  readonly dialect: Dialect;
  #q: Queryable;
  #db: Db | null;
  #texts: Map<string, string>;

  /**
   * @param dialect the SQL dialect of `q`
   * @param q the database, or a transaction on it
   * @param opts `closes`: `close()` closes `q` (true for a database, false
   *   inside a transaction); `texts`: the cache of rewritten statements to
   *   share
   */
  constructor(
    dialect: Dialect,
    q: Queryable,
    opts: { closes?: boolean; texts?: Map<string, string> } = {},
  ) {
    this.dialect = dialect;
    this.#q = q;
    this.#db = opts.closes === false ? null : q as Db;
    this.#texts = opts.texts ?? new Map();
  }

  #text(sql: string): string {
    if (this.dialect === "sqlite") return sql;
    let text = this.#texts.get(sql);
    if (text === undefined) {
      let n = 0;
      text = sql.replace(/\?/g, () => `$${++n}`);
      this.#texts.set(sql, text);
    }
    return text;
  }

  /** All rows of a statement. */
  query<R = Row>(sql: string, ...params: unknown[]): Promise<R[]> {
    return this.#q.query<R>(this.#text(sql), ...params);
  }

  /** The first row of a statement, or `null`. */
  queryOne<R = Row>(sql: string, ...params: unknown[]): Promise<R | null> {
    return this.#q.queryOne<R>(this.#text(sql), ...params);
  }

  /** Runs a statement that changes data. */
  exec(sql: string, ...params: unknown[]): Promise<ExecResult> {
    return this.#q.exec(this.#text(sql), ...params);
  }

  /** Runs an INSERT into a table with an `id` key and returns the new id. */
  async insert(sql: string, ...params: unknown[]): Promise<number> {
    const text = this.dialect === "postgres" ? `${sql} RETURNING id` : sql;
    const { lastInsertId } = await this.exec(text, ...params);
    return Number(lastInsertId);
  }

  /** Runs `fn` in a transaction (committed when it returns, rolled back when it throws). */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    const texts = this.#texts;
    return this.#q.transaction((tx) => fn(new Store(this.dialect, tx, { closes: false, texts })), {
      mode: "immediate",
    });
  }

  /** Closes the database. */
  async close(): Promise<void> {
    await this.#db?.close();
  }
}

/**
 * Opens the database named by `target`: a `postgres://` (or
 * `postgresql://`) URL, else a SQLite file path (`sqlite:` prefix
 * optional, `:memory:` for a private in-memory one).
 *
 * @example
 * ```ts
 * import { openStore } from "./database.ts";
 * const store = await openStore("sqlite::memory:");
 * if (store.dialect !== "sqlite") throw new Error("expected sqlite");
 * await store.close();
 * ```
 */
export async function openStore(target: string): Promise<Store> {
  if (/^postgres(ql)?:\/\//.test(target)) {
    // Loaded only when asked for: SQLite runs without the PostgreSQL driver.
    const postgres = await import("../../drivers/postgres.ts");
    return new Store("postgres", await postgres.open(target));
  }
  const path = target.startsWith("sqlite:") ? target.slice(7) : target;
  return new Store("sqlite", await sqlite.open({ path }));
}

/**
 * True when `err` is a unique-constraint violation (PostgreSQL SQLSTATE
 * 23505, SQLite `UNIQUE constraint failed`).
 *
 * @example
 * ```ts
 * import { DbError } from "../../mod.ts";
 * import { isUniqueViolation } from "./database.ts";
 * if (!isUniqueViolation(new DbError("x", { sqlState: "23505" }))) throw new Error("23505");
 * ```
 */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof DbError &&
    (err.sqlState === "23505" || /UNIQUE constraint failed/i.test(err.message));
}

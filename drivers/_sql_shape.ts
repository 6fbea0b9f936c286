/**
 * What a statement's text says before it runs: how many parameters it
 * binds and whether a read-only connection can run it, worked out once per
 * text and remembered by the database that runs it.
 *
 * @module
 */
import { countPlaceholders } from "./_params.ts";
import type { Dialect } from "./_types.ts";

const READ = /^\s*(?:select|values|with)\b/i;
const WITH = /^\s*with/i;
const WRITE = /\b(?:insert|update|delete|replace)\b/i;

/**
 * True for statements a read-only connection can run: SELECT, VALUES, WITH without DML.
 *
 * @example
 * ```ts ignore
 * isRead("SELECT * FROM t"); // true
 * isRead("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x"); // false
 * ```
 */
export function isRead(sql: string): boolean {
  return READ.test(sql) && (!WITH.test(sql) || !WRITE.test(sql));
}

/**
 * The shape of one statement text.
 *
 * @example
 * ```ts ignore
 * const shape: SqlShape = { placeholders: 1, read: true }; // "SELECT * FROM t WHERE id = ?"
 * ```
 */
export interface SqlShape {
  /** Parameters the text binds in its dialect. */
  readonly placeholders: number;
  /** True when a read-only connection can run it ({@linkcode isRead}). */
  readonly read: boolean;
}

// Texts remembered per database, and the longest one remembered: a long
// text (a generated bulk INSERT) is rarely repeated, and costs more to keep.
const MAX_TEXTS = 256;
const MAX_LENGTH = 2048;

/**
 * The shapes of the statement texts one database has run, so a statement
 * run again skips the placeholder lexer and the read check.
 *
 * @example
 * ```ts ignore
 * const shapes = new SqlShapes("mysql");
 * shapes.of("SELECT ? + ?"); // { placeholders: 2, read: true }
 * ```
 */
export class SqlShapes {
  readonly #dialect: Dialect;
  readonly #known = new Map<string, SqlShape>();

  /** @param dialect the placeholder rules the texts follow */
  constructor(dialect: Dialect) {
    this.#dialect = dialect;
  }

  /**
   * The shape of `sql`. Throws what {@linkcode countPlaceholders} throws
   * (a named SQLite parameter), each time the text is given.
   */
  of(sql: string): SqlShape {
    const known = this.#known.get(sql);
    if (known !== undefined) return known;
    const shape: SqlShape = {
      placeholders: countPlaceholders(this.#dialect, sql),
      read: isRead(sql),
    };
    if (sql.length <= MAX_LENGTH) {
      if (this.#known.size >= MAX_TEXTS) this.#known.delete(this.#known.keys().next().value!);
      this.#known.set(sql, shape);
    }
    return shape;
  }
}

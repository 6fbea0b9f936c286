/**
 * What both SQLite engines read from SQL text itself: where its first
 * statement starts, whether text after a statement holds another one,
 * whether a statement inserts (for `lastInsertId`), and the error for
 * several statements where only one may run.
 *
 * @module
 */

// Whitespace, semicolons and comments, which hold no statement.
const FILLER = String.raw`(?:\s|;|--[^\n]*(?:\n|$)|\/\*[\s\S]*?(?:\*\/|$))*`;
const NO_STATEMENT = new RegExp(`^${FILLER}$`);
const LEADING_FILLER = new RegExp(`^${FILLER}`);
const INSERT = /^\s*(?:insert|replace)\b/i;

/**
 * `sql` from its first statement on (leading whitespace, semicolons and
 * comments dropped).
 *
 * @example
 * ```ts ignore
 * fromFirstStatement(";; -- note\nSELECT 1"); // "SELECT 1"
 * ```
 */
export function fromFirstStatement(sql: string): string {
  return sql.replace(LEADING_FILLER, "");
}

/**
 * The rest of a text after its first statement, when it holds another
 * statement; undefined when it is only whitespace, semicolons and comments.
 *
 * @example
 * ```ts ignore
 * moreStatements(" SELECT 2"); // " SELECT 2"
 * moreStatements(" ; -- end"); // undefined
 * ```
 */
export function moreStatements(tail: string): string | undefined {
  return NO_STATEMENT.test(tail) ? undefined : tail;
}

/**
 * True when `sql` is an `INSERT` or `REPLACE` (its rowid is reported).
 *
 * @example
 * ```ts ignore
 * inserts("INSERT INTO t VALUES (1)"); // true
 * ```
 */
export function inserts(sql: string): boolean {
  return INSERT.test(sql);
}

/**
 * The error for SQL with several statements where only one may run (a
 * query, or an `exec` with parameters).
 *
 * @example
 * ```ts ignore
 * throw severalStatements("SELECT 1; SELECT 2");
 * ```
 */
export function severalStatements(sql: string): Error {
  return Object.assign(
    new Error(
      `sqlite: more than one statement in one call (only exec without parameters runs several): ${sql}`,
    ),
    { code: "MULTI_STATEMENT" },
  );
}

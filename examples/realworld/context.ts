/**
 * What every route needs: the database and the token signer.
 *
 * @module
 */
import type { Store } from "./database.ts";
import type { Jwt } from "./jwt.ts";

/**
 * The app's shared state, owned by the running app (see `app.ts`).
 *
 * @example
 * ```ts ignore
 * const ctx: AppContext = { store, jwt };
 * ```
 */
export interface AppContext {
  /** The database. */
  store: Store;
  /** Signs and verifies tokens. */
  jwt: Jwt;
}

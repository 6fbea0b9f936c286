/**
 * The Hello-JSON app of the multi-worker peers in bench/http_load.ts, one
 * object for both engines: `handle` for lunet/http's
 * `serve({ workers, module })`, `fetch` for `deno serve --parallel`.
 *
 * @module
 */
const MESSAGE = { message: "Hello, World!" };

/** The app: a lunet/http `App` and a `deno serve` handler at once. */
const app: { handle(): typeof MESSAGE; fetch(): Response } = {
  handle: () => MESSAGE,
  fetch: () => Response.json(MESSAGE),
};
export default app;

/**
 * The entry point of an HTTP worker (see ./workers.ts): imports the app
 * module, serves its default export on the shared port with SO_REUSEPORT,
 * reports its connection count, and drains on request.
 *
 * @module
 */
import { serve } from "./server.ts";
import type { Server } from "./lifecycle.ts";
import { type FromWorker, IN_WORKER, type ToWorker } from "./workers.ts";

/** The parts of the worker global scope used here. */
interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(msg: FromWorker): void;
}

/** How often the connection count is reported when it changed (ms). */
const REPORT_MS = 100;

const scope = globalThis as unknown as WorkerScope;
(globalThis as Record<symbol, unknown>)[IN_WORKER] = true;

let server: Server | undefined;
let reporter: ReturnType<typeof setInterval> | undefined;

scope.onmessage = async (e) => {
  const msg = e.data;
  if (msg.type === "start") {
    try {
      const app = (await import(msg.module)).default;
      if (typeof app !== "function" && typeof app?.handle !== "function") {
        throw new TypeError(
          `${msg.module} has no default export that is a handler or an App (e.g. a Router)`,
        );
      }
      server = await serve(app, { ...msg.options, reusePort: true });
    } catch (err) {
      scope.postMessage({
        type: "failed",
        message: err instanceof Error ? err.stack ?? err.message : String(err),
      });
      return;
    }
    let reported = 0;
    reporter = setInterval(() => {
      const count = server!.connections;
      if (count === reported) return;
      reported = count;
      scope.postMessage({ type: "connections", count });
    }, REPORT_MS);
    scope.postMessage({ type: "listening" });
  } else if (msg.type === "certificates") {
    server?.setCertificates({ cert: msg.cert, key: msg.key }).catch((err) =>
      console.error("lunet/http: setCertificates failed in a worker:", err)
    );
  } else {
    clearInterval(reporter);
    await server?.shutdown({ deadline: msg.deadline });
    scope.postMessage({ type: "finished" });
  }
};

/**
 * The inside of one HTTP worker, thread or process: imports the app
 * module, serves its default export on the shared port, counts requests,
 * tracks the deadline of every request in flight (with a time limit),
 * reports to the supervisor every `beatMs`, runs the interval handlers,
 * and drains on request.
 *
 * @module
 */
import { current } from "../_wait.ts";
import type { Task } from "../task.ts";
import { installShared } from "../shared/_store.ts";
import { installIntervals, IntervalSet } from "./_intervals.ts";
import type { Server } from "./lifecycle.ts";
import type { HttpRequest } from "./request.ts";
import { json, type Reply } from "./response.ts";
import { type Handler, serve } from "./server.ts";
import {
  type FromWorker,
  IN_WORKER,
  type ToWorker,
  type WorkerConfig,
} from "./_worker_protocol.ts";
import type { WorkerInfo } from "./workers.ts";

/** A request in flight under a time limit. */
interface Held {
  due: number;
  port: number;
}

/** How a worker talks to its supervisor. */
export type Send = (msg: FromWorker) => void;

/** One worker's runtime; found on `globalThis[IN_WORKER]`. */
export class WorkerRuntime {
  readonly isolation: "thread" | "process";
  config: WorkerConfig | undefined;
  #send: Send;
  #server: Server | undefined;
  #beat: ReturnType<typeof setInterval> | undefined;
  #requests = 0;
  #held = new Set<Held>();
  #byTask = new WeakMap<Task<unknown>, Held>();
  #asks = new Map<number, (workers: WorkerInfo[]) => void>();
  #nextAsk = 1;
  readonly intervals: IntervalSet;

  constructor(isolation: "thread" | "process", send: Send) {
    this.isolation = isolation;
    this.#send = send;
    this.intervals = new IntervalSet({
      leader: false,
      running: false,
      report: (message) => this.#send({ type: "report", message }),
    });
    (globalThis as Record<symbol, unknown>)[IN_WORKER] = this;
    installIntervals(this.intervals);
  }

  /** Handles one message from the supervisor. */
  async receive(msg: ToWorker): Promise<void> {
    switch (msg.type) {
      case "start":
        return await this.#start(msg.config);
      case "leader":
        return this.intervals.setLeader(msg.on);
      case "certificates":
        return void this.#server?.setCertificates({ cert: msg.cert, key: msg.key }).catch((err) =>
          console.error("lunet/http: setCertificates failed in a worker:", err)
        );
      case "status":
        this.#asks.get(msg.ask)?.(msg.workers);
        this.#asks.delete(msg.ask);
        return;
      case "shutdown":
        return await this.#stop(msg.deadline, msg.idleGrace);
    }
  }

  async #stop(deadline: number, idleGrace?: number): Promise<void> {
    this.intervals.clear();
    clearInterval(this.#beat);
    await this.#server?.shutdown({ deadline, idleGrace });
    this.#send({ type: "finished" });
  }

  // A thread worker's uncaught error, or its Deno.exit(), would end the
  // thread with its sockets still open (those of the ffi backend belong
  // to the process, and its listener would keep taking connections):
  // report it, close everything, and let the supervisor replace it.
  // Deno.exit() throws instead, to unwind its caller.
  #catchCrashes(): void {
    let crashed = false;
    const crash = (message: string) => {
      if (crashed) return;
      crashed = true;
      this.#send({ type: "crashed", message });
      void this.#stop(Date.now());
    };
    const describe = (err: unknown) =>
      err instanceof Error ? err.stack ?? err.message : String(err);
    globalThis.addEventListener("error", (e) => {
      e.preventDefault();
      crash(describe((e as ErrorEvent).error));
    });
    globalThis.addEventListener("unhandledrejection", (e) => {
      e.preventDefault();
      crash(describe((e as PromiseRejectionEvent).reason));
    });
    (Deno as { exit: (code?: number) => never }).exit = (code?: number): never => {
      crash(`called Deno.exit(${code ?? ""})`);
      throw new Error("Deno.exit() in an http thread worker: the worker drains and is replaced");
    };
  }

  async #start(config: WorkerConfig): Promise<void> {
    this.config = config;
    if (config.isolation === "thread") this.#catchCrashes();
    try {
      installShared(config.shared);
      const app = (await import(config.module)).default;
      if (typeof app !== "function" && typeof app?.handle !== "function") {
        throw new TypeError(
          `${config.module} has no default export that is a handler or an App (e.g. a Router)`,
        );
      }
      const handler: Handler = typeof app === "function" ? app : (req) => app.handle(req);
      this.#server = await serve(this.#wrap(handler, config), {
        ...config.options,
        reusePort: true,
        shutdownOnSignal: false,
      });
    } catch (err) {
      this.#send({
        type: "failed",
        message: err instanceof Error ? err.stack ?? err.message : String(err),
      });
      return;
    }
    this.#beat = setInterval(() => this.#report(), config.beatMs);
    this.intervals.start();
    this.#send({ type: "listening", pid: Deno.pid });
    this.#report();
  }

  // Counts requests; with a time limit, holds each one's deadline while
  // its handler runs; answers the status path.
  #wrap(handler: Handler, config: WorkerConfig): Handler {
    const limit = config.requestTimeLimit, status = config.statusPath;
    const held = this.#held, byTask = this.#byTask;
    const untimed: Handler = (req) => {
      this.#requests++;
      if (status !== undefined && req.path === status) return this.#statusReply();
      return handler(req);
    };
    if (limit === undefined) return untimed;
    return (req: HttpRequest) => {
      this.#requests++;
      if (status !== undefined && req.path === status) return this.#statusReply();
      const entry: Held = { due: Date.now() + limit, port: req.remote.port ?? 0 };
      held.add(entry);
      const task = current();
      if (task) byTask.set(task, entry);
      let reply: Reply | Promise<Reply>;
      try {
        reply = handler(req);
      } catch (err) {
        held.delete(entry);
        throw err;
      }
      if (!(reply instanceof Promise)) {
        held.delete(entry);
        return reply;
      }
      return reply.finally(() => held.delete(entry));
    };
  }

  async #statusReply(): Promise<Reply> {
    return json({ supervisor: await this.status() });
  }

  #report(): void {
    const server = this.#server;
    if (!server) return;
    let due = 0;
    const held: number[] = [];
    for (const h of this.#held) {
      if (due === 0 || h.due < due) due = h.due;
      held.push(h.port);
    }
    const mem = Deno.memoryUsage();
    this.#send({
      type: "beat",
      connections: server.connections,
      requests: this.#requests,
      heapBytes: mem.heapUsed + mem.external,
      rssBytes: mem.rss,
      due,
      held,
    });
  }

  /** Moves the deadline of the current task's request to `ms` from now. */
  watchdog(ms?: number): boolean {
    const task = current();
    const entry = task && this.#byTask.get(task);
    const limit = this.config?.requestTimeLimit;
    if (!entry || limit === undefined) return false;
    entry.due = Date.now() + (ms ?? limit);
    return true;
  }

  /** The supervisor's view of every worker. */
  status(): Promise<WorkerInfo[]> {
    const ask = this.#nextAsk++;
    return new Promise((resolve) => {
      this.#asks.set(ask, resolve);
      this.#send({ type: "status?", ask });
    });
  }
}

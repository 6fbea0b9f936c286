/**
 * The supervisor's handle on one worker, whatever it runs in: a Web
 * Worker (`ThreadLink`) or a child `deno` process (`ProcessLink`, whose
 * messages arrive on a Unix socket connection the child opens). Both
 * deliver the worker's messages and, once, its end.
 *
 * @module
 */
import type { Conn } from "../socket.ts";
import { type FrameReader, jsonFrame, parseJson } from "../shared/_frames.ts";
import type { FromWorker, ToWorker } from "./_worker_protocol.ts";

/** What a link reports to its supervisor. */
export interface LinkEvents {
  message(msg: FromWorker): void;
  /** The worker is gone; `why` says how. Called once. */
  exit(why: string): void;
}

/** A supervisor's handle on one worker. */
export interface Link {
  /** The worker's process id (the supervisor's own for a thread). */
  readonly pid: number;
  send(msg: ToWorker): void;
  /** Ends the worker at once (terminate, or SIGKILL). */
  kill(): void;
}

const WORKER_URL = new URL("./_worker.ts", import.meta.url);
const PROCESS_URL = new URL("./_process_main.ts", import.meta.url);

/** A worker in a Web Worker of this process. */
export class ThreadLink implements Link {
  readonly pid: number = Deno.pid;
  #worker: Worker;
  #events: LinkEvents;
  #ended = false;

  constructor(name: string, events: LinkEvents) {
    this.#events = events;
    this.#worker = new Worker(WORKER_URL, { type: "module", name });
    this.#worker.onmessage = (e: MessageEvent<FromWorker>) => {
      if (!this.#ended) events.message(e.data);
    };
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#end(`failed: ${e.message}`);
    };
  }

  send(msg: ToWorker): void {
    if (!this.#ended) this.#worker.postMessage(msg);
  }

  kill(): void {
    this.#end("terminated");
  }

  #end(why: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#worker.terminate();
    this.#events.exit(why);
  }
}

/** How to start a process worker. */
export interface ProcessSpec {
  /** `deno run` flags: permissions, V8 flags. */
  flags: string[];
  /** The supervisor's Unix socket. */
  socket: string;
}

/** A worker in a child `deno` process. */
export class ProcessLink implements Link {
  readonly pid: number;
  #child: Deno.ChildProcess;
  #events: LinkEvents;
  #conn: Conn | undefined;
  #queue: ToWorker[] = [];
  #writing: Promise<void> = Promise.resolve();
  #ended = false;

  constructor(id: number, spec: ProcessSpec, events: LinkEvents) {
    this.#events = events;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...spec.flags, PROCESS_URL.href],
      env: { LUNET_SUPERVISOR: spec.socket, LUNET_WORKER_ID: String(id) },
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    this.pid = this.#child.pid;
    this.#child.status.then((s) => {
      const why = s.signal ? `killed by ${s.signal}` : `exited with code ${s.code}`;
      this.#end(why);
    });
  }

  /** Takes the control connection the child opened (its hello already read). */
  attach(conn: Conn, reader: FrameReader): void {
    if (this.#ended) return conn.close();
    this.#conn = conn;
    for (const msg of this.#queue.splice(0)) this.send(msg);
    (async () => {
      try {
        for (let p; (p = await reader.next()) !== null;) {
          if (!this.#ended) this.#events.message(parseJson<FromWorker>(p));
        }
      } catch {
        // the child went away; its exit status says how
      }
      conn.close();
    })();
  }

  send(msg: ToWorker): void {
    if (this.#ended) return;
    const conn = this.#conn;
    if (!conn) {
      this.#queue.push(msg);
      return;
    }
    const bytes = jsonFrame(msg);
    this.#writing = this.#writing.then(() => conn.write(bytes)).catch(() => {});
  }

  kill(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  #end(why: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#conn?.close();
    this.#events.exit(why);
  }
}

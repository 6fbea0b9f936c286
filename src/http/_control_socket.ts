/**
 * The supervisor's Unix socket for process workers, in a private temp
 * directory: a child opens one connection to say which worker it is and
 * carry its control messages, and another (when it first uses lunet/shared)
 * for dictionary requests. The first frame of a connection says which.
 *
 * @module
 */
import { spawn } from "../task.ts";
import { type Conn, listen, type Listener } from "../socket.ts";
import { FrameReader, parseJson } from "../shared/_frames.ts";
import { serveShared } from "../shared/_server.ts";
import type { Table } from "../shared/_table.ts";
import type { FromWorker } from "./_worker_protocol.ts";

/** Takes the control connection of worker `id`; `false` if there is no such worker. */
export type Attach = (id: number, conn: Conn, reader: FrameReader) => boolean;

/** The listening socket and its directory. */
export class ControlSocket {
  readonly path: string;
  #dir: string;
  #listener: Listener;

  /** @ignore */
  private constructor(dir: string, listener: Listener) {
    this.#dir = dir;
    this.path = `${dir}/supervisor.sock`;
    this.#listener = listener;
  }

  /** Listens in a new temp directory; hands connections to `attach` or the shared tables. */
  static async open(tables: ReadonlyMap<string, Table>, attach: Attach): Promise<ControlSocket> {
    const dir = await Deno.makeTempDir({ prefix: "lunet-supervisor-" });
    // The deno backend: a request/reply ping-pong measured twice as fast on it.
    const listener = await listen("unix", `${dir}/supervisor.sock`, undefined, {
      backend: "deno",
    });
    const socket = new ControlSocket(dir, listener);
    spawn(async () => {
      for (;;) {
        let conn;
        try {
          conn = await listener.accept();
        } catch {
          return;
        }
        spawn(() => greet(conn, tables, attach), { name: "supervisor link" });
      }
    }, { name: "supervisor control" });
    return socket;
  }

  /** Stops listening and removes the directory. */
  async close(): Promise<void> {
    this.#listener.close();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

async function greet(conn: Conn, tables: ReadonlyMap<string, Table>, attach: Attach) {
  const reader = new FrameReader(conn);
  let hello: FromWorker | { type: "shared" };
  try {
    const p = await reader.next({ timeout: 10_000 });
    if (p === null) return conn.close();
    hello = parseJson(p);
  } catch {
    return conn.close();
  }
  if (hello.type === "shared") return await serveShared(conn, reader, tables);
  if (hello.type !== "hello" || !attach(hello.id, conn, reader)) conn.close();
}

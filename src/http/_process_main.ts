/**
 * The entry point of a process worker of `serve({ workers, isolation:
 * "process" })`: a child `deno` process that connects to its supervisor's
 * Unix socket (`LUNET_SUPERVISOR`), says which worker it is
 * (`LUNET_WORKER_ID`), and runs a worker runtime whose messages are JSON
 * frames on that connection. When the connection ends (the supervisor is
 * gone), the process exits.
 *
 * @module
 */
import { connect, type UnixPath } from "../socket.ts";
import { FrameReader, jsonFrame, parseJson } from "../shared/_frames.ts";
import { WorkerRuntime } from "./_worker_runtime.ts";
import type { FromWorker, ToWorker } from "./_worker_protocol.ts";

const path = Deno.env.get("LUNET_SUPERVISOR");
const id = Number(Deno.env.get("LUNET_WORKER_ID"));
if (!path || !Number.isInteger(id)) {
  console.error("lunet/http: a process worker is started by its supervisor");
  Deno.exit(2);
}
const conn = await connect(path as UnixPath);
let writing: Promise<void> = Promise.resolve();
let finished = false;
const send = (msg: FromWorker) => {
  const bytes = jsonFrame(msg);
  writing = writing.then(() => conn.write(bytes)).catch(() => {});
  if (msg.type === "finished") {
    finished = true;
    writing.then(() => Deno.exit(0));
  }
};
const rt = new WorkerRuntime("process", send);
send({ type: "hello", id, pid: Deno.pid });
const reader = new FrameReader(conn);
try {
  for (let p; (p = await reader.next()) !== null;) void rt.receive(parseJson<ToWorker>(p));
} catch {
  // the supervisor went away
}
if (!finished) Deno.exit(1);

/**
 * The supervisor's side of the shared dictionary for process workers:
 * answers the requests of one connection against this process's tables.
 *
 * @module
 */
import type { Conn } from "../socket.ts";
import { concat, type FrameReader } from "./_frames.ts";
import type { Table } from "./_table.ts";
import {
  decodeRequest,
  encodeReply,
  OP_ADD,
  OP_CLEAR,
  OP_DELETE,
  OP_ENTRIES,
  OP_GET,
  OP_INCR,
  OP_SET,
} from "./_wire.ts";

function apply(tables: ReadonlyMap<string, Table>, p: Uint8Array): Uint8Array {
  const req = decodeRequest(p);
  const cut = req.key.indexOf("\0");
  const table = tables.get(req.key.slice(0, cut));
  const key = req.key.slice(cut + 1);
  try {
    if (!table) {
      throw new RangeError(`shared: no dictionary ${JSON.stringify(req.key.slice(0, cut))}`);
    }
    let result: unknown;
    switch (req.op) {
      case OP_GET:
        result = table.get(key);
        break;
      case OP_SET:
      case OP_ADD:
        result = table.set(key, req.value!, req.ttl, req.op === OP_ADD);
        break;
      case OP_INCR:
        result = table.incr(key, req.by, req.ttl);
        break;
      case OP_DELETE:
        result = table.delete(key);
        break;
      case OP_ENTRIES:
        result = table.entries();
        break;
      case OP_CLEAR:
        table.clear();
        break;
      default:
        throw new TypeError(`shared: unknown operation ${req.op}`);
    }
    return encodeReply(req.id, result);
  } catch (err) {
    return encodeReply(req.id, undefined, err instanceof Error ? err : new Error(String(err)));
  }
}

/**
 * Serves dictionary requests read by `reader` from `conn` until it
 * closes, each applied at once (a table operation never waits); the
 * replies to requests that arrived together go out in one write.
 */
export async function serveShared(
  conn: Conn,
  reader: FrameReader,
  tables: ReadonlyMap<string, Table>,
): Promise<void> {
  try {
    for (let p; (p = await reader.next()) !== null;) {
      const replies = [apply(tables, p)];
      for (let q; (q = reader.buffered()) !== undefined;) replies.push(apply(tables, q));
      await conn.write(concat(replies));
    }
  } catch {
    // The worker went away mid-request; its requests die with it.
  } finally {
    conn.close();
  }
}

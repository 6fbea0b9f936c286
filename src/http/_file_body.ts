/**
 * A response body read from a file: its length is known up front (so it
 * goes out with Content-Length), and it is made of byte strings and file
 * ranges (one range for a whole file or a single `Range`, several with
 * their part heads for `multipart/byteranges`).
 *
 * The engine sends it past its output buffer: on the `ffi` backend with
 * `sendfile(2)`, the bytes going from the page cache to the socket
 * without passing through JavaScript (when the socket is full, the next
 * 16 KiB go through the stream's own write, which waits for room); on the
 * `deno` backend in 256 KiB reads, each written before the next is read.
 * Either way a client that stops reading holds the transfer at one
 * buffer, and the body timeout closes it. A file that ends before its
 * announced length closes the connection (the client sees a short body,
 * never bytes of something else).
 *
 * @module
 */
import { ClosedError } from "../errors.ts";
import { handleOf } from "../_stream_core.ts";
import { fdOf, FfiStream } from "../_backend/ffi/stream.ts";
import { closeFile, openFile, readAt, sendFileNow } from "../_backend/ffi/_sendfile.ts";
import { PushBody } from "./response.ts";
import type { Output } from "./_writer.ts";

/** A piece of a file body: bytes, or `length` bytes of the file from `offset`. */
export type Segment = Uint8Array | { offset: number; length: number };

/** Size of a read on the `deno` backend. */
const READ_SIZE = 256 * 1024;
/** Size of the piece written through the stream when the socket is full (ffi). */
const WAIT_PIECE = 16 * 1024;

/**
 * A body of file ranges and byte strings. As a {@linkcode PushBody} it can
 * be streamed by anything that takes one (a middleware re-wrapping it);
 * the engine sends it with Content-Length and, on `ffi`, `sendfile`.
 */
export class FileBody extends PushBody {
  /** The file. */
  readonly path: string;
  /** The pieces, in order. */
  readonly segments: readonly Segment[];
  /** Total byte count. */
  readonly length: number;

  /**
   * @param path the file (its read permission already checked)
   * @param segments the pieces
   */
  constructor(path: string, segments: Segment[]) {
    super((write) => produce(path, segments, write));
    this.path = path;
    this.segments = segments;
    let n = 0;
    for (const s of segments) n += s.length;
    this.length = n;
  }
}

function ended(path: string): ClosedError {
  return new ClosedError(`http file body ${path}: the file ended before its length`);
}

// The PushBody form: reads, each written before the next.
async function produce(
  path: string,
  segments: Segment[],
  write: (chunk: Uint8Array) => Promise<void>,
): Promise<void> {
  let file: Deno.FsFile | undefined;
  try {
    for (const seg of segments) {
      if (seg instanceof Uint8Array) {
        await write(seg);
        continue;
      }
      file ??= await Deno.open(path);
      await file.seek(seg.offset, Deno.SeekMode.Start);
      let left = seg.length;
      while (left > 0) {
        const buf = new Uint8Array(Math.min(left, READ_SIZE));
        const n = await file.read(buf);
        if (n === null) throw ended(path);
        await write(buf.subarray(0, n));
        left -= n;
      }
    }
  } finally {
    file?.close();
  }
}

/**
 * Writes `body` to the connection of `out`, after everything buffered was
 * written out. A file that ends early closes the connection and throws
 * `ClosedError`.
 */
export async function sendFileBody(body: FileBody, out: Output): Promise<void> {
  const handle = handleOf(out.core);
  if (handle instanceof FfiStream) return await viaSendfile(body, out, handle);
  let file: Deno.FsFile | undefined;
  let buf: Uint8Array | undefined;
  try {
    for (const seg of body.segments) {
      if (seg instanceof Uint8Array) {
        await out.direct(seg);
        continue;
      }
      file ??= await Deno.open(body.path);
      await file.seek(seg.offset, Deno.SeekMode.Start);
      buf ??= new Uint8Array(Math.min(READ_SIZE, Math.max(seg.length, 1)));
      let left = seg.length;
      while (left > 0) {
        const n = await file.read(left < buf.length ? buf.subarray(0, left) : buf);
        if (n === null) {
          out.core.close();
          throw ended(body.path);
        }
        await out.direct(buf.subarray(0, n));
        left -= n;
      }
    }
  } finally {
    file?.close();
  }
}

async function viaSendfile(body: FileBody, out: Output, stream: FfiStream): Promise<void> {
  let fd = -1;
  let piece: Uint8Array | undefined;
  try {
    for (const seg of body.segments) {
      if (seg instanceof Uint8Array) {
        await out.direct(seg);
        continue;
      }
      if (fd === -1) fd = openFile(body.path);
      let offset = seg.offset, left = seg.length;
      while (left > 0) {
        const socket = fdOf(stream);
        if (socket < 0) throw new ClosedError(`http file body ${body.path}`);
        const n = sendFileNow(socket, fd, offset, left);
        if (n > 0) {
          offset += n;
          left -= n;
          continue;
        }
        // Full (-1): the next piece goes through the stream's write, which
        // waits for room (under the body timeout); at the end (0): short.
        piece ??= new Uint8Array(WAIT_PIECE);
        const got = n === 0 ? 0 : readAt(fd, piece.subarray(0, Math.min(left, WAIT_PIECE)), offset);
        if (got === 0) {
          out.core.close();
          throw ended(body.path);
        }
        await out.direct(piece.subarray(0, got));
        offset += got;
        left -= got;
      }
    }
  } finally {
    if (fd !== -1) closeFile(fd);
  }
}

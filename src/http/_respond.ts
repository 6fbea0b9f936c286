/**
 * Writing one response on an HTTP connection: a fixed body copied next
 * to its head (pipelined responses batched), a Fetch API `Response`, or
 * a streamed body (an iterable, a stream or a pushed body) framed with
 * the chunked coding on HTTP/1.1, delimited by closing on HTTP/1.0.
 * While a body streams, the client going away is noticed.
 *
 * @module
 */
import { Cancelled } from "../errors.ts";
import type { Input } from "./_input.ts";
import type { RequestHead } from "./_parser.ts";
import { type HeaderList, HttpResponse, PushBody } from "./response.ts";
import { headEnding, headerBlock, type Output } from "./_writer.ts";
import { type Compression, encodeFixed, encodeStreamed } from "./_compress.ts";
import { FileBody, sendFileBody } from "./_file_body.ts";

type Streamed = Exclude<HttpResponse["body"], string | Uint8Array | null | undefined>;

/** The response side of one connection. */
export class Responder {
  /** True from the start of a response until it is written out. */
  responding = false;
  #out: Output;
  #input: Input;
  #watchLimit: number;
  #gone: () => void;
  #compression: Compression | null;

  /**
   * @param out the connection's output
   * @param input the connection's input (watched while a body streams)
   * @param watchLimit most bytes buffered while watching (the header limit)
   * @param gone called once when the client goes away mid-response
   * @param compression the server's response compression, `null` for none
   */
  constructor(
    out: Output,
    input: Input,
    watchLimit: number,
    gone: () => void,
    compression: Compression | null = null,
  ) {
    this.#out = out;
    this.#input = input;
    this.#watchLimit = watchLimit;
    this.#gone = gone;
    this.#compression = compression;
  }

  // A write of a pushed body failed: the client is gone, so the handler's
  // task (and what it spawned) is cancelled and the write fails as cancelled.
  #pushFailed = (err: unknown): never => {
    this.#gone();
    throw new Cancelled("http response write", { cause: err });
  };

  /**
   * Writes an error response (`Connection: close`) for a failed exchange
   * and waits until it is out.
   */
  async sendError(status: number, message: string): Promise<void> {
    const res = errorJson(status, message);
    this.#out.fixed(
      res.status,
      headerBlock(res.headers),
      res.body as string,
      headEnding(false, 1),
      false,
    );
    await this.#out.flush();
  }

  /**
   * Writes `res`, the response to `head`; returns whether the connection
   * may stay open (synchronously when the write did not wait).
   * `requestDone`: the request body was read to its end.
   */
  send(
    res: HttpResponse | Response,
    head: RequestHead,
    keepAlive: boolean,
    requestDone: boolean,
  ): boolean | Promise<boolean> {
    const out = this.#out;
    this.responding = true;
    if (res instanceof HttpResponse) {
      const body = res.body;
      // The first compressed response waits for node:zlib to load.
      const loading = this.#compression?.loading(head, res.status, res.headers, body);
      if (loading) return loading.then(() => this.send(res, head, keepAlive, requestDone));
      if (
        body === null || body === undefined || typeof body === "string" ||
        body instanceof Uint8Array
      ) {
        const coded = body && this.#compression !== null
          ? encodeFixed(this.#compression, head, res.status, res.headers, body)
          : null;
        let pending = out.fixed(
          res.status,
          headerBlock(coded === null ? res.headers : coded[0]),
          coded === null ? body ?? null : coded[1],
          headEnding(keepAlive, head.minor),
          head.method === "HEAD",
        );
        // With the request read, the serving loop writes out before it
        // waits for the next one; a body still to come is waited for with
        // the response written.
        if (pending === undefined && (out.full || (!requestDone && this.#input.available === 0))) {
          pending = out.flush();
        }
        if (pending !== undefined) return this.#sent(pending, keepAlive);
        this.responding = false;
        return keepAlive;
      }
      if (body instanceof FileBody) return this.#sendFile(res, body, head, keepAlive);
      const coded = this.#compression === null
        ? null
        : encodeStreamed(this.#compression, head, res.status, res.headers, body);
      return this.#stream(
        res.status,
        headerBlock(coded === null ? res.headers : coded[0]),
        coded === null ? body : coded[1],
        head,
        keepAlive,
        requestDone,
      );
    }
    return this.#sendFetch(res, head, keepAlive, requestDone);
  }

  // A file body: Content-Length, then the file past the output buffer
  // (see ./_file_body.ts), unless compression turns it into a stream.
  async #sendFile(
    res: HttpResponse,
    body: FileBody,
    head: RequestHead,
    keepAlive: boolean,
  ): Promise<boolean> {
    const out = this.#out;
    let headers = res.headers;
    if (this.#compression !== null) {
      const plan = this.#compression.plan(head, res.status, headers, body.length);
      if (plan !== null && plan.coding !== "") {
        const coded = encodeStreamed(this.#compression, head, res.status, headers, body)!;
        return await this.#stream(
          res.status,
          headerBlock(coded[0]),
          coded[1],
          head,
          keepAlive,
          true,
        );
      }
      if (plan !== null) headers = plan.headers;
    }
    out.sizedHead(res.status, headerBlock(headers), body.length, headEnding(keepAlive, head.minor));
    const flushing = out.flush();
    if (flushing) await flushing;
    if (head.method !== "HEAD" && body.length > 0) await sendFileBody(body, out);
    this.responding = false;
    return keepAlive;
  }

  async #sent(pending: Promise<void>, keepAlive: boolean): Promise<boolean> {
    await pending;
    this.responding = false;
    return keepAlive;
  }

  // Writes a Fetch API Response.
  async #sendFetch(
    res: Response,
    head: RequestHead,
    keepAlive: boolean,
    requestDone: boolean,
  ): Promise<boolean> {
    const out = this.#out;
    const omitBody = head.method === "HEAD";
    const own: [string, string][] = [];
    for (const [name, value] of res.headers) {
      if (name !== "content-length" && name !== "transfer-encoding" && name !== "connection") {
        own.push([name, value]);
      }
    }
    let fields: HeaderList = own;
    if (res.body === null) {
      out.fixed(res.status, headerBlock(fields), null, headEnding(keepAlive, head.minor), omitBody);
      await out.flush();
      this.responding = false;
      return keepAlive;
    }
    let body: Streamed = res.body;
    const loading = this.#compression?.loading(head, res.status, fields, body);
    if (loading) await loading;
    const coded = this.#compression === null
      ? null
      : encodeStreamed(this.#compression, head, res.status, fields, body);
    if (coded !== null) [fields, body] = coded;
    return await this.#stream(res.status, headerBlock(fields), body, head, keepAlive, requestDone);
  }

  async #stream(
    status: number,
    headers: string,
    body: Streamed,
    head: RequestHead,
    keepAlive: boolean,
    requestDone: boolean,
  ): Promise<boolean> {
    const out = this.#out, input = this.#input;
    if (head.method === "HEAD") {
      out.streamHead(status, headers, false, headEnding(keepAlive, head.minor));
      await out.flush();
      if (body instanceof ReadableStream) await body.cancel();
      return keepAlive;
    }
    const chunked = head.minor === 1;
    if (!chunked) keepAlive = false;
    out.streamHead(status, headers, chunked, headEnding(keepAlive, head.minor));
    await out.flush();
    // While the body streams, notice the client going away: a reset, or
    // the end of its side (unless it had ended it before the stream began).
    if (requestDone) input.watch(this.#gone, this.#watchLimit, true);
    try {
      if (body instanceof PushBody) {
        await body.produce((chunk) => {
          const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
          if (bytes.length === 0) return Promise.resolve();
          return out.direct(chunked ? frame(bytes) : bytes).catch(this.#pushFailed);
        });
      } else {
        const iterable = body instanceof ReadableStream
          ? body
          : body as AsyncIterable<Uint8Array | string>;
        for await (const piece of iterable as AsyncIterable<Uint8Array | string>) {
          await out.piece(piece, chunked);
        }
      }
    } finally {
      input.unwatch();
    }
    if (chunked) out.end();
    await out.flush();
    this.responding = false;
    return keepAlive;
  }
}

// One chunk of the chunked coding holding `bytes`.
function frame(bytes: Uint8Array): Uint8Array {
  const prefix = bytes.length.toString(16) + "\r\n";
  const out = new Uint8Array(prefix.length + bytes.length + 2);
  for (let i = 0; i < prefix.length; i++) out[i] = prefix.charCodeAt(i);
  out.set(bytes, prefix.length);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

/** A JSON error response: `{"error": message}` with `status`. */
export function errorJson(
  status: number,
  message: string,
  headers: [string, string][] = [],
): HttpResponse {
  return new HttpResponse(JSON.stringify({ error: message }), {
    status,
    headers: [["content-type", "application/json"], ...headers],
  });
}

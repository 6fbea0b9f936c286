/**
 * One outbound exchange: the request sent over a connection, redirects
 * followed up to the final response head, under one wait budget.
 *
 * @module
 */
import { envFlag } from "../_env.ts";
import { ProtocolError } from "../errors.ts";
import { deadlineOf, race, type WaitOptions } from "../_wait.ts";
import { DEFAULT_MAX_REDIRECTS, DEFAULT_TIMEOUT, type RequestOptions } from "./_options.ts";
import { type Outgoing, transportError, Wire } from "./_transport.ts";

/** The final response head of an exchange and the connection it came on. */
export interface Exchanged {
  head: Response;
  url: string;
  wire: Wire;
  what: string;
}

/** Sends the request and follows redirects up to the final response head. */
export async function exchange(opts: RequestOptions, wait: WaitOptions): Promise<Exchanged> {
  let url = parseUrl(opts.url);
  const out: Outgoing = {
    method: (opts.method ?? "GET").toUpperCase(),
    headers: new Headers(opts.headers),
    body: opts.body,
  };
  const maxRedirects = opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const wire = new Wire(
    { insecure: isInsecure(opts), caCerts: opts.caCerts },
    `${out.method} ${url}`,
  );
  try {
    for (let hops = 0;; hops++) {
      const what = `${out.method} ${url}`;
      const head = await race(
        what,
        wire.send(url, out).catch((err) => {
          throw transportError(err, what);
        }),
        wait,
      );
      const location = head.headers.get("location");
      if (!REDIRECTS.has(head.status) || location === null || maxRedirects === 0) {
        return { head, url: url.href, wire, what };
      }
      await head.body?.cancel();
      if (hops >= maxRedirects) {
        throw new ProtocolError(`${what}: more than ${maxRedirects} redirects`);
      }
      const next = redirectTarget(location, url, what);
      redirect(out, head.status, url, next, what);
      url = next;
    }
  } catch (err) {
    wire.close();
    throw err;
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const CREDENTIALS = ["authorization", "cookie", "proxy-authorization"];

/** Rewrites the outgoing request for a redirect, as browsers and curl do. */
function redirect(out: Outgoing, status: number, from: URL, to: URL, what: string): void {
  if (status === 303 || ((status === 301 || status === 302) && out.method === "POST")) {
    if (out.method !== "HEAD") out.method = "GET";
    out.body = undefined;
    out.headers.delete("content-type");
    out.headers.delete("content-length");
  } else if (out.body instanceof ReadableStream) {
    throw new ProtocolError(`${what}: ${status} redirect cannot resend a streamed body`);
  }
  if (from.origin !== to.origin) { for (const name of CREDENTIALS) out.headers.delete(name); }
}

/** Where a redirect's `location` leads: a peer's bad one is a {@linkcode ProtocolError}. */
function redirectTarget(location: string, from: URL, what: string): URL {
  let to;
  try {
    to = new URL(location, from);
  } catch (err) {
    throw new ProtocolError(`${what}: redirect to a malformed location ${location}`, undefined, {
      cause: err,
    });
  }
  if (to.protocol !== "http:" && to.protocol !== "https:") {
    throw new ProtocolError(`${what}: redirect to an unsupported URL scheme ${to.protocol}`);
  }
  return to;
}

function parseUrl(input: string | URL): URL {
  const url = new URL(input);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`httpc: unsupported URL scheme ${url.protocol} in ${url}`);
  }
  return url;
}

/** The request's wait options: the default 30 s budget unless told otherwise. */
export function waitOptions(opts: RequestOptions): WaitOptions {
  const timeout = opts.timeout ?? DEFAULT_TIMEOUT;
  const deadline = timeout === Infinity
    ? opts.deadline
    : deadlineOf({ timeout, deadline: opts.deadline });
  return { deadline, signal: opts.signal };
}

let warnedInsecure = false;

function isInsecure(opts: RequestOptions): boolean {
  if (opts.insecure !== undefined) return opts.insecure;
  if (!envFlag("LUNET_HTTPC_INSECURE")) return false;
  if (!warnedInsecure) {
    warnedInsecure = true;
    console.error("lunet/httpc: LUNET_HTTPC_INSECURE=1: TLS certificates are not verified");
  }
  return true;
}

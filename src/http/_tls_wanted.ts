/**
 * Whether serve options ask for HTTPS: a check that needs none of the TLS
 * code, which `./_tls_serve.ts` holds and servers load only when it is true.
 *
 * @example
 * ```ts
 * import { wantsTls } from "./_tls_wanted.ts";
 * if (wantsTls({})) throw new Error("plain HTTP");
 * if (!wantsTls({ certFile: "cert.pem", keyFile: "key.pem" })) throw new Error("HTTPS");
 * ```
 *
 * @module
 */
import type { TlsServeOptions } from "./_tls_serve.ts";

/** True when `opts` asks for HTTPS. */
export function wantsTls(opts: TlsServeOptions): boolean {
  return opts.cert !== undefined || opts.certFile !== undefined || opts.key !== undefined ||
    opts.keyFile !== undefined || (opts.certs !== undefined && opts.certs.length > 0);
}

/**
 * PostgreSQL's password authentication, the client's side: cleartext,
 * MD5, and SASL SCRAM-SHA-256 (RFC 5802, RFC 7677) with the server's
 * signature checked.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";

/** The password the server asked for, `md5` with its salt hashed as PostgreSQL does. */
export function md5Password(user: string, password: string, salt: Uint8Array): string {
  const inner = createHash("md5").update(password).update(user).digest("hex");
  return "md5" + createHash("md5").update(inner).update(salt).digest("hex");
}

/**
 * One SCRAM-SHA-256 exchange: {@linkcode first} is the client's first
 * message, {@linkcode final} answers the server's first, and
 * {@linkcode verify} checks the server's final message.
 *
 * @example
 * ```ts ignore
 * const scram = new Scram("secret");
 * send(scram.first());
 * send(scram.final(serverFirst));
 * scram.verify(serverFinal);
 * ```
 */
export class Scram {
  readonly #password: string;
  readonly #nonce = randomBytes(18).toString("base64");
  #firstBare = "";
  #signature: Buffer | undefined;

  constructor(password: string) {
    this.#password = password;
  }

  /** `n,,n=,r=<nonce>` (the server takes the user from the startup message). */
  first(): string {
    this.#firstBare = `n=,r=${this.#nonce}`;
    return `n,,${this.#firstBare}`;
  }

  /** The client's final message for the server's first one (`r=…,s=…,i=…`). */
  final(serverFirst: string): string {
    const fields = attributes(serverFirst);
    const nonce = fields.get("r"), salt = fields.get("s"), rounds = Number(fields.get("i"));
    if (!nonce?.startsWith(this.#nonce) || !salt || !Number.isSafeInteger(rounds) || rounds < 1) {
      throw new Error("postgres: the server's SCRAM challenge is malformed");
    }
    const salted = pbkdf2Sync(this.#password, Buffer.from(salt, "base64"), rounds, 32, "sha256");
    const clientKey = hmac(salted, "Client Key");
    const storedKey = createHash("sha256").update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`;
    const message = `${this.#firstBare},${serverFirst},${withoutProof}`;
    const clientSignature = hmac(storedKey, message);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i] ^ clientSignature[i];
    this.#signature = hmac(hmac(salted, "Server Key"), message);
    return `${withoutProof},p=${proof.toString("base64")}`;
  }

  /** Throws unless `serverFinal` (`v=…`) proves the server knows the password. */
  verify(serverFinal: string): void {
    const v = attributes(serverFinal).get("v");
    const got = v === undefined ? undefined : Buffer.from(v, "base64");
    if (
      !this.#signature || !got || got.length !== this.#signature.length ||
      !timingSafeEqual(got, this.#signature)
    ) {
      throw new Error("postgres: the server's SCRAM signature does not match");
    }
  }
}

function hmac(key: Uint8Array, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

/** `a=1,b=2` as a map; a value may hold `=`. */
function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

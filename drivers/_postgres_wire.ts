/**
 * One PostgreSQL connection on a TCP or Unix socket, speaking protocol 3.0:
 * startup and password authentication, statements with parameters as
 * cached prepared statements (Bind, Execute, Sync), statements without
 * them as simple queries, results read in the text format. Statements are
 * written as they come (those of one event-loop turn in one write) and
 * answered in order; each ends at its own Sync, so an error fails that
 * statement alone.
 *
 * @module
 */
import type { Kind } from "./_types.ts";
import { DbError, ProtocolError } from "../src/errors.ts";
import { traceClose, traceOpen } from "../src/trace.ts";
import { md5Password, Scram } from "./_postgres_auth.ts";
import { FrameReader, FrameWriter } from "./_postgres_frames.ts";
import { ARRAY_TYPES_SQL, inferType, type Parser, PgTypes, SESSION } from "./_postgres_values.ts";

/** Where and as whom {@linkcode PgConnection.open} connects. */
export interface WireConfig {
  /** A host name or address, or a path: the directory of the server's Unix socket. */
  host: string;
  port: number;
  user: string;
  password?: string;
  database?: string;
  /** Milliseconds for the TCP connect, TLS, the startup and authentication. */
  connectTimeout: number;
  /** TLS, with the certificates to check the server's against (none: the system's). */
  tls?: { caCerts?: string[] };
  /** Names the connection in errors and the trace. */
  label: string;
}

/**
 * An error the server reported (an ErrorResponse), with its SQLSTATE as
 * `code` and the other fields it sent.
 *
 * @example
 * ```ts ignore
 * if (err instanceof PgServerError && err.code === "23505") console.log(err.constraint);
 * ```
 */
export class PgServerError extends Error {
  override name = "PostgresError";
  /** The SQLSTATE. */
  readonly code: string;
  readonly severity?: string;
  readonly detail?: string;
  readonly hint?: string;
  readonly position?: string;
  readonly schema?: string;
  readonly table?: string;
  readonly column?: string;
  readonly constraint?: string;

  constructor(fields: Map<string, string>) {
    super(fields.get("M") ?? "unknown error");
    this.code = fields.get("C") ?? "XX000";
    this.severity = fields.get("V") ?? fields.get("S");
    this.detail = fields.get("D");
    this.hint = fields.get("H");
    this.position = fields.get("P");
    this.schema = fields.get("s");
    this.table = fields.get("t");
    this.column = fields.get("c");
    this.constraint = fields.get("n");
  }
}

/** An error of the connection itself, with a code the driver's callers test (`CONNECTION_CLOSED`, `ECONNRESET`…). */
function connectionError(message: string, code: string, extra?: object): Error {
  return Object.assign(new Error(message), { code }, extra);
}

/** The code of an error a socket call threw. */
function socketCode(err: unknown): string {
  const e = Deno.errors;
  if (err instanceof e.ConnectionReset || err instanceof e.ConnectionAborted) return "ECONNRESET";
  if (err instanceof e.BrokenPipe) return "EPIPE";
  if (err instanceof e.BadResource || err instanceof e.Interrupted) return "CONNECTION_CLOSED";
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" ? code : "CONNECTION_FAILED";
}

interface Field {
  name: string;
  parse: Parser | undefined;
}

/** A statement prepared on the connection: its name, parameter types and result columns. */
interface Prepared {
  name: string;
  params: number[];
  fields: Field[];
}

/** Something written that the server answers up to a ReadyForQuery. */
interface Unit {
  error: Error | undefined;
  message(type: number, r: FrameReader): void;
  done(status: number): void;
  lost(err: Error): void;
}

// A statement's states: waiting to be written, being prepared, written, ended.
const QUEUED = 0, DESCRIBING = 1, SENT = 2, DONE = 3;

/**
 * One statement on a {@linkcode PgConnection}: a promise of its result
 * (rows, the first row, or what it changed, by its kind) and its state.
 */
export class PgQuery implements Unit {
  readonly kind: Kind;
  readonly text: string;
  readonly params: unknown[];
  readonly promise: Promise<unknown>;
  /** The key of its prepared statement: the text, and the parameter types it declares. */
  readonly key: string;
  /** 0 queued, 1 being prepared, 2 written, 3 ended. */
  state = QUEUED;
  /** True when it ran a statement prepared before: a plan DDL may have made stale. */
  cached = false;
  /** Set when its statement was prepared for it. */
  fresh = false;
  /** The transaction status the server reported after it (`I`, `T`, `E`). */
  status = "I";
  error: Error | undefined;
  fields: Field[] | undefined;
  /** The types of a simple query, whose columns come with its rows. */
  #types: PgTypes | undefined;
  #rows: unknown[] = [];
  #first: unknown = null;
  #last: unknown = null;
  #count = 0;
  #resolve!: (v: unknown) => void;
  #reject!: (e: unknown) => void;

  constructor(kind: Kind, text: string, params: unknown[]) {
    this.kind = kind;
    this.text = text;
    this.params = params;
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    let key = text;
    for (let i = 0; i < params.length; i++) {
      const t = inferType(params[i]);
      if (t !== 0) key += `\0${i}:${t}`;
    }
    this.key = key;
  }

  message(type: number, r: FrameReader): void {
    switch (type) {
      case 0x44: // DataRow
        this.#row(r);
        break;
      case 0x54: // RowDescription
        this.fields = readFields(r, this.#types!);
        this.#rows = [];
        this.#first = this.#last = null;
        break;
      case 0x43: // CommandComplete
        this.#count = affected(r.cstring());
        break;
    }
  }

  /** True once it is written and not yet answered. */
  get running(): boolean {
    return this.state === SENT;
  }

  /** Readies it for a simple query, whose columns come with its rows. */
  simple(types: PgTypes): void {
    this.#types = types;
  }

  #row(r: FrameReader): void {
    const fields = this.fields!;
    const n = r.int16();
    if (this.kind === "exec") {
      if (n === 0) return void (this.#last = null);
      const len = r.int32();
      this.#last = len < 0 ? null : valueOf(fields[0], r.text(len));
      return;
    }
    if (this.kind === "one" && this.#first !== null) return;
    const row: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const len = r.int32();
      const field = fields[i];
      const v = len < 0 ? null : valueOf(field, r.text(len));
      if (field.name === "__proto__") {
        Object.defineProperty(row, "__proto__", { value: v, enumerable: true, writable: true });
      } else row[field.name] = v;
    }
    if (this.kind === "one") this.#first = row;
    else this.#rows.push(row);
  }

  done(status: number): void {
    this.state = DONE;
    this.status = String.fromCharCode(status);
    if (this.error) return this.#reject(this.error);
    this.#resolve(
      this.kind === "all"
        ? this.#rows
        : this.kind === "one"
        ? this.#first
        : { affectedRows: this.#count, lastInsertId: this.#last },
    );
  }

  lost(err: Error): void {
    this.state = DONE;
    this.#reject(this.error ?? err);
  }

  /** Ends it with `err` without the server's word (refused before it was sent, or given up). */
  fail(err: unknown): void {
    this.state = DONE;
    this.#reject(err);
  }
}

function valueOf(field: Field, text: string): unknown {
  return field.parse ? field.parse(text) : text;
}

/** The rows a CommandComplete tag counts (`INSERT 0 3`: 3); 0 for commands without a count. */
function affected(tag: string): number {
  const space = tag.lastIndexOf(" ");
  const n = space < 0 ? NaN : Number(tag.slice(space + 1));
  return Number.isSafeInteger(n) ? n : 0;
}

function readFields(r: FrameReader, types: PgTypes): Field[] {
  const n = r.int16();
  const fields: Field[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const name = r.cstring();
    r.pos += 6; // table oid, column number
    const oid = r.int32();
    r.pos += 8; // type size, modifier, format
    fields[i] = { name, parse: types.parser(oid) };
  }
  return fields;
}

/** Parse and Describe of a statement, answered before its first Bind. */
class Describe implements Unit {
  error: Error | undefined;
  params: number[] = [];
  fields: Field[] = [];
  readonly prepared: Prepared;
  readonly query: PgQuery;
  readonly #types: PgTypes;
  readonly #then: (d: Describe) => void;

  constructor(prepared: Prepared, query: PgQuery, types: PgTypes, then: (d: Describe) => void) {
    this.prepared = prepared;
    this.query = query;
    this.#types = types;
    this.#then = then;
  }

  message(type: number, r: FrameReader): void {
    if (type === 0x74) { // ParameterDescription
      const n = r.int16();
      for (let i = 0; i < n; i++) this.params.push(r.int32() >>> 0);
    } else if (type === 0x54) this.fields = readFields(r, this.#types);
  }

  done(): void {
    this.#then(this);
  }

  lost(err: Error): void {
    this.error ??= err;
    this.#then(this);
  }
}

/** A Close of a prepared statement, which nobody waits for. */
function closeUnit(): Unit {
  return { error: undefined, message() {}, done() {}, lost() {} };
}

/** The message types a backend sends during startup: authentication, parameters, key, ready, error, notice, protocol version. */
const STARTUP_TYPES = new Uint8Array([0x52, 0x53, 0x4b, 0x5a, 0x45, 0x4e, 0x76]);

/** Every message type a backend sends. */
const BACKEND_TYPES = new Uint8Array(
  [..."RSKZENvTDCI123ntsGHWdcAV"].map((c) => c.charCodeAt(0)),
);

/** The longest backend message taken (the server's own limit on a value is 1 GiB). */
const MAX_MESSAGE = 0x4000_0000 + 0x10_0000;

/** The read buffer's size, to which it returns after a larger reply. */
const IN_BUFFER = 64 * 1024;

/** The most parameters a statement takes (the protocol counts them in 16 bits). */
const MAX_PARAMS = 65535;

/** Statements a connection keeps prepared before it closes the oldest. */
const MAX_PREPARED = 500;

/**
 * One connection. {@linkcode query} starts a statement; `dead` tells
 * when the connection is gone.
 *
 * @example
 * ```ts ignore
 * const c = await PgConnection.open({ host: "127.0.0.1", port: 5432, user: "postgres", connectTimeout: 10_000, label: "postgres" });
 * console.log(await c.query("one", "SELECT $1::int AS n", [1]).promise); // { n: 1 }
 * await c.close();
 * ```
 */
export class PgConnection {
  /** The backend's process id and secret, for cancel requests. */
  pid = 0;
  secret = 0;
  /** Set once the connection is lost or closed. */
  dead = false;

  readonly #conn: Deno.Conn;
  readonly #cfg: WireConfig;
  readonly #label: string;
  readonly #trace: number;
  #in = new Uint8Array(IN_BUFFER);
  #inStart = 0;
  #inEnd = 0;
  readonly #reader = new FrameReader(this.#in, 0, 0);
  readonly #out = new FrameWriter();
  #writing = false;
  #flushQueued = false;
  readonly #outbox: PgQuery[] = [];
  readonly #inflight: Unit[] = [];
  #blocked = false;
  readonly #statements = new Map<string, Prepared>();
  #named = 0;
  #types = new PgTypes([]);
  #loop: Promise<void> = Promise.resolve();
  #auth: ((type: number, r: FrameReader) => void) | undefined;

  private constructor(conn: Deno.Conn, cfg: WireConfig) {
    this.#conn = conn;
    this.#cfg = cfg;
    this.#label = cfg.label;
    this.#trace = traceOpen("tcp", `${cfg.label} connection`);
  }

  /** Connects, authenticates and reads the database's array types, within `cfg.connectTimeout`. */
  static async open(cfg: WireConfig): Promise<PgConnection> {
    let connection: PgConnection | undefined;
    const limit = new TimeLimit(cfg, "connect", () => connection && connection.#shutdown());
    const timedOut = limit.passed;
    try {
      connection = new PgConnection(await dial(cfg, timedOut), cfg);
      await Promise.race([connection.#start(cfg), timedOut]);
      const rows = await Promise.race([
        connection.query("all", ARRAY_TYPES_SQL, []).promise,
        timedOut,
      ]) as { typarray: number; oid: number; typdelim: string }[];
      connection.#types = new PgTypes(rows.map((r) => [r.typarray, r.oid, r.typdelim] as const));
      return connection;
    } catch (err) {
      if (connection) await connection.close(0);
      throw err;
    } finally {
      limit.stop();
    }
  }

  /**
   * Asks the server to stop the statement running on this connection:
   * a CancelRequest on a connection of its own (encrypted when this one
   * is), within `connectTimeout`. Resolves once the server has read it (it
   * closes that connection without a reply).
   */
  async cancel(): Promise<void> {
    const cfg = this.#cfg;
    const limit = new TimeLimit(cfg, "cancel request");
    const token = traceOpen("tcp", `${cfg.label} cancel request`);
    let conn: Deno.Conn | undefined;
    try {
      conn = await dial(cfg, limit.passed);
      const request = new FrameWriter().begin(0).int32(80877102).int32(this.pid)
        .int32(this.secret).end().take();
      const sent = writeAndDrain(conn, request);
      sent.catch(() => {}); // after a timeout, it fails on the closed connection
      await Promise.race([sent, limit.passed]);
    } finally {
      limit.stop();
      if (conn) closeQuietly(conn);
      traceClose("tcp", token);
    }
  }

  /** Sends the startup message and resolves at the server's first ReadyForQuery. */
  #start(cfg: WireConfig): Promise<void> {
    const startup = new PgQuery("exec", "", []);
    this.#inflight.push(startup);
    const out = this.#out.begin(0).int32(196608);
    out.cstring("user").cstring(cfg.user);
    if (cfg.database) out.cstring("database").cstring(cfg.database);
    for (const [k, v] of Object.entries(SESSION)) out.cstring(k).cstring(v);
    out.byte(0).end();
    let scram: Scram | undefined;
    const password = (): string => {
      if (!cfg.password) {
        throw connectionError(
          `${cfg.label}: the server asks for a password and none was given`,
          "28P01",
        );
      }
      return cfg.password;
    };
    this.#auth = (_type, r) => {
      const code = r.int32();
      if (code === 0) return; // AuthenticationOk
      if (code === 3) { // cleartext
        this.#out.begin(0x70).cstring(password()).end();
      } else if (code === 5) { // MD5
        this.#out.begin(0x70).cstring(md5Password(cfg.user, password(), r.bytes(4))).end();
      } else if (code === 10) { // SASL
        const mechanisms: string[] = [];
        for (let m = r.cstring(); m !== ""; m = r.cstring()) mechanisms.push(m);
        if (!mechanisms.includes("SCRAM-SHA-256")) {
          throw connectionError(
            `${cfg.label}: the server offers no SASL mechanism lunet speaks (${
              mechanisms.join(", ")
            })`,
            "AUTH_UNSUPPORTED",
          );
        }
        scram = new Scram(password());
        const first = new TextEncoder().encode(scram.first());
        this.#out.begin(0x70).cstring("SCRAM-SHA-256").int32(first.length).bytes(first).end();
      } else if (code === 11 && scram) {
        this.#out.begin(0x70).text(scram.final(r.text(r.end - r.pos))).end();
      } else if (code === 12 && scram) {
        scram.verify(r.text(r.end - r.pos));
        return;
      } else {
        throw connectionError(
          `${cfg.label}: the server asks for an authentication method lunet does not speak (${code})`,
          "AUTH_UNSUPPORTED",
        );
      }
      this.#flushSoon();
    };
    this.#flushSoon();
    this.#loop = this.#read();
    return startup.promise.then(() => {
      this.#auth = undefined;
    });
  }

  /** Starts statement `text` of `kind` with `params` (none: a simple query, which may hold several statements). */
  query(kind: Kind, text: string, params: unknown[]): PgQuery {
    const q = new PgQuery(kind, text, params);
    if (this.dead) {
      q.fail(this.#unsent());
      return q;
    }
    this.#outbox.push(q);
    if (!this.#blocked) this.#pump();
    return q;
  }

  /**
   * Ends statement `q` with `err` if it has not been executed: true when
   * it was still queued or being prepared, false once written (or ended).
   */
  abandon(q: PgQuery, err: unknown): boolean {
    if (q.state === QUEUED) {
      const i = this.#outbox.indexOf(q);
      if (i >= 0) this.#outbox.splice(i, 1);
    } else if (q.state !== DESCRIBING) return false;
    q.fail(err);
    return true;
  }

  /** Forgets the prepared statement `q` ran (a stale plan): the next run prepares it again. */
  forget(q: PgQuery): void {
    const prepared = this.#statements.get(q.key);
    if (!prepared) return;
    this.#statements.delete(q.key);
    this.#close(prepared);
  }

  #close(prepared: Prepared): void {
    if (this.dead) return;
    this.#out.begin(0x43).byte(0x53).cstring(prepared.name).end(); // Close statement
    this.#out.begin(0x53).end(); // Sync
    this.#inflight.push(closeUnit());
    this.#flushSoon();
  }

  /** Writes queued statements in order until one must be prepared first. */
  #pump(): void {
    while (!this.#blocked && this.#outbox.length > 0) {
      const q = this.#outbox.shift()!;
      if (q.state === DONE) continue;
      if (q.params.length === 0) {
        const mark = this.#out.length;
        try {
          this.#out.begin(0x51).cstring(q.text).end();
        } catch (err) {
          this.#out.rewind(mark);
          q.fail(paramError(err));
          continue;
        }
        q.simple(this.#types);
        q.state = SENT;
        this.#inflight.push(q);
        continue;
      }
      const prepared = this.#statements.get(q.key);
      if (prepared) {
        this.#execute(q, prepared);
        continue;
      }
      this.#describe(q);
    }
    this.#flushSoon();
  }

  /** Parse and Describe for `q`'s statement; `q` waits, and the statements after it with it. */
  #describe(q: PgQuery): void {
    const name = `lunet_${++this.#named}`;
    const mark = this.#out.length;
    try {
      if (q.params.length > MAX_PARAMS) {
        throw new RangeError(
          `a statement takes at most ${MAX_PARAMS} parameters, got ${q.params.length}`,
        );
      }
      this.#out.begin(0x50).cstring(name).cstring(q.text).int16(q.params.length);
      for (const p of q.params) this.#out.int32(inferType(p));
      this.#out.end();
    } catch (err) {
      this.#out.rewind(mark);
      return q.fail(paramError(err));
    }
    this.#out.begin(0x44).byte(0x53).cstring(name).end(); // Describe statement
    this.#out.begin(0x53).end();
    q.state = DESCRIBING;
    this.#blocked = true;
    const prepared: Prepared = { name, params: [], fields: [] };
    this.#inflight.push(new Describe(prepared, q, this.#types, (d) => this.#described(d)));
  }

  #described(d: Describe): void {
    this.#blocked = false;
    const q = d.query;
    if (d.error) {
      // A statement whose connection was lost while it was being prepared never ran.
      const unsent = this.dead && !(d.error instanceof PgServerError);
      if (q.state !== DONE) q.fail(unsent ? this.#unsent() : d.error);
    } else {
      d.prepared.params = d.params;
      d.prepared.fields = d.fields;
      this.#statements.set(q.key, d.prepared);
      if (this.#statements.size > MAX_PREPARED) {
        const [oldest, evicted] = this.#statements.entries().next().value!;
        this.#statements.delete(oldest);
        this.#close(evicted);
      }
      if (q.state !== DONE) {
        q.state = QUEUED;
        q.fresh = true;
        this.#outbox.unshift(q);
      }
    }
    if (!this.dead) this.#pump();
  }

  /** Bind, Execute and Sync of `q` on its prepared statement. */
  #execute(q: PgQuery, prepared: Prepared): void {
    const out = this.#out;
    const mark = out.length;
    try {
      const n = q.params.length;
      const values = new Array<string | Uint8Array | null>(n);
      let binary = false;
      for (let i = 0; i < n; i++) {
        const v = this.#types.encode(q.params[i], prepared.params[i]);
        if (v instanceof Uint8Array) binary = true;
        values[i] = v;
      }
      out.begin(0x42).byte(0).cstring(prepared.name);
      if (binary) {
        out.int16(n);
        for (const v of values) out.int16(v instanceof Uint8Array ? 1 : 0);
      } else out.int16(0);
      out.int16(n);
      for (const v of values) out.value(v);
      out.int16(0).end();
    } catch (err) {
      out.rewind(mark);
      return q.fail(paramError(err));
    }
    out.begin(0x45).byte(0).int32(0).end(); // Execute
    out.begin(0x53).end(); // Sync
    q.fields = prepared.fields;
    q.cached = !q.fresh;
    q.state = SENT;
    this.#inflight.push(q);
  }

  #flushSoon(): void {
    if (this.#flushQueued || this.#writing || this.#out.length === 0) return;
    this.#flushQueued = true;
    queueMicrotask(() => {
      this.#flushQueued = false;
      this.#write();
    });
  }

  async #write(): Promise<void> {
    if (this.#writing || this.dead) return;
    this.#writing = true;
    try {
      while (this.#out.length > 0) {
        const chunk = this.#out.take();
        for (let off = 0; off < chunk.length;) off += await this.#conn.write(chunk.subarray(off));
      }
    } catch (err) {
      this.#lose(connectionError(`${this.#label}: ${errText(err)}`, socketCode(err)));
    } finally {
      this.#writing = false;
    }
  }

  async #read(): Promise<void> {
    try {
      for (;;) {
        if (this.#in.length - this.#inEnd < 4096) this.#makeRoom(4096);
        let n: number | null;
        try {
          n = await this.#conn.read(this.#in.subarray(this.#inEnd));
        } catch (err) {
          const code = socketCode(err);
          const text = code === "CONNECTION_CLOSED" ? "connection closed" : errText(err);
          return this.#lose(connectionError(`${this.#label}: ${text}`, code));
        }
        if (n === null) break;
        this.#inEnd += n;
        this.#frames();
      }
      this.#lose(connectionError(`${this.#label}: connection closed`, "CONNECTION_CLOSED"));
    } catch (err) {
      // A message lunet cannot take (or an authentication it refuses).
      this.#lose(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Room for `n` more bytes after what is buffered, moving it to the start or growing the buffer. */
  #makeRoom(n: number): void {
    const held = this.#inEnd - this.#inStart;
    const buf = this.#in.length - held >= n
      ? this.#in
      : new Uint8Array(Math.max(this.#in.length * 2, held + n));
    if (buf === this.#in) this.#in.copyWithin(0, this.#inStart, this.#inEnd);
    else buf.set(this.#in.subarray(this.#inStart, this.#inEnd));
    this.#in = buf;
    this.#reader.buf = buf;
    this.#inStart = 0;
    this.#inEnd = held;
  }

  /** Handles every whole message buffered. */
  #frames(): void {
    const b = this.#in;
    let p = this.#inStart;
    while (this.#inEnd - p >= 5) {
      const len = (b[p + 1] << 24) | (b[p + 2] << 16) | (b[p + 3] << 8) | b[p + 4];
      const known = this.#auth ? STARTUP_TYPES : BACKEND_TYPES;
      if (!known.includes(b[p]) || len < 4 || len > MAX_MESSAGE) {
        throw new ProtocolError(
          `${this.#label}: the server's reply is not PostgreSQL's protocol ` +
            `(message 0x${b[p].toString(16).padStart(2, "0")} of ${len >>> 0} bytes)`,
        );
      }
      if (this.#inEnd - p < len + 1) {
        this.#inStart = p;
        if (len + 1 > this.#in.length - p) this.#makeRoom(len + 1 - (this.#inEnd - p));
        return;
      }
      const r = this.#reader;
      r.pos = p + 5;
      r.end = p + 1 + len;
      this.#message(b[p], r);
      p += len + 1;
    }
    this.#inStart = p;
    if (p === this.#inEnd) {
      this.#inStart = this.#inEnd = 0;
      // A large reply grew the buffer: give it back.
      if (this.#in.length > IN_BUFFER) this.#reader.buf = this.#in = new Uint8Array(IN_BUFFER);
    }
  }

  #message(type: number, r: FrameReader): void {
    switch (type) {
      case 0x5a: { // ReadyForQuery
        const unit = this.#inflight.shift();
        unit?.done(r.buf[r.pos]);
        return;
      }
      case 0x45: { // ErrorResponse
        const err = readError(r);
        const unit = this.#inflight[0];
        if (unit && !unit.error) unit.error = err;
        if (this.#auth && unit) {
          // A failed startup gets no ReadyForQuery.
          this.#inflight.shift();
          unit.lost(err);
        }
        return;
      }
      case 0x52: // Authentication
        this.#auth?.(type, r);
        return;
      case 0x4b: // BackendKeyData
        this.pid = r.int32() >>> 0;
        this.secret = r.int32() >>> 0;
        return;
      case 0x47: // CopyInResponse: lunet sends no COPY data
        this.#out.begin(0x66).cstring("COPY FROM STDIN is not supported by lunet").end();
        this.#flushSoon();
        return;
      case 0x4e: // NoticeResponse
      case 0x53: // ParameterStatus
      case 0x41: // NotificationResponse
        return;
    }
    this.#inflight[0]?.message(type, r);
  }

  /** Ends the connection after a loss: every statement fails, those never written as unsent. */
  #lose(err: Error): void {
    if (this.dead) return;
    this.dead = true;
    this.#shutdown();
    for (const unit of this.#inflight.splice(0)) unit.lost(err);
    const unsent = this.#unsent();
    for (const q of this.#outbox.splice(0)) if (q.state !== DONE) q.fail(unsent);
  }

  /** The error of a statement the connection closed before it was written. */
  #unsent(): Error {
    return connectionError(`${this.#label}: connection closed`, "CONNECTION_CLOSED", {
      unsent: true,
    });
  }

  #shut = false;

  #shutdown(): void {
    if (this.#shut) return;
    this.#shut = true;
    closeQuietly(this.#conn);
    traceClose("tcp", this.#trace);
  }

  /**
   * Closes the connection once its statements have ended, waiting at most
   * `grace` ms for them; those still running then fail.
   */
  async close(grace = 5000): Promise<void> {
    if (!this.dead) {
      const pending = [...this.#outbox, ...this.#inflight]
        .filter((u): u is PgQuery => u instanceof PgQuery)
        .map((q) => q.promise.catch(() => {}));
      if (pending.length > 0 && grace > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          Promise.all(pending),
          new Promise((resolve) => timer = setTimeout(resolve, grace)),
        ]);
        clearTimeout(timer);
      }
      if (!this.dead && !this.#writing) {
        this.#out.begin(0x58).end(); // Terminate
        await this.#write();
      }
      this.#lose(connectionError(`${this.#label}: connection closed`, "CONNECTION_CLOSED"));
    }
    await this.#loop;
  }
}

/** A statement or parameter that cannot be written (a NUL in its text, a value JSON cannot hold). */
function paramError(err: unknown): DbError {
  return new DbError(`postgres: ${errText(err)}`, { driverCode: "PARAM_INVALID", cause: err });
}

/** `cfg.connectTimeout` for one step: `passed` fails once it is up, after `onPassed` ran. */
class TimeLimit {
  readonly passed: Promise<never>;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(cfg: WireConfig, step: string, onPassed?: () => void) {
    this.passed = new Promise<never>((_, reject) => {
      this.#timer = setTimeout(() => {
        onPassed?.();
        reject(connectionError(`${cfg.label}: ${step} timed out`, "CONNECT_TIMEOUT"));
      }, cfg.connectTimeout);
    });
  }

  /** Ends the limit; `passed` then never settles. */
  stop(): void {
    clearTimeout(this.#timer);
  }
}

/**
 * Connects to the server, through TLS when `cfg.tls` asks for it, or fails
 * with `timedOut`. A host that is a path is the directory of the server's
 * Unix socket, where TLS is not used (as libpq does not).
 */
async function dial(cfg: WireConfig, timedOut: Promise<never>): Promise<Deno.Conn> {
  const unix = cfg.host.startsWith("/");
  const connecting: Promise<Deno.Conn> = unix
    ? Deno.connect({ transport: "unix", path: `${cfg.host}/.s.PGSQL.${cfg.port}` })
    : Deno.connect({ hostname: cfg.host, port: cfg.port });
  let conn: Deno.Conn;
  try {
    conn = await Promise.race([connecting, timedOut]);
  } catch (err) {
    connecting.then((conn) => conn.close(), () => {});
    throw err;
  }
  if (unix) return conn;
  const tcp = conn as Deno.TcpConn;
  tcp.setNoDelay(true);
  if (!cfg.tls) return tcp;
  const securing = startTls(tcp, cfg);
  try {
    return await Promise.race([securing, timedOut]);
  } catch (err) {
    closeQuietly(tcp); // wakes a TLS request still waiting for its answer
    securing.then((conn) => conn.close(), () => {});
    throw err;
  }
}

/** Writes `bytes` on `conn`, then reads until the peer closes it (what it sends is dropped). */
async function writeAndDrain(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
  const sink = new Uint8Array(16);
  while ((await conn.read(sink)) !== null) { /* the server sends nothing */ }
}

/** Asks the server for TLS (SSLRequest) and starts it on `tcp`; a server that declines fails it. */
async function startTls(tcp: Deno.TcpConn, cfg: WireConfig): Promise<Deno.TlsConn> {
  const answer = new Uint8Array(1);
  try {
    const request = new FrameWriter().begin(0).int32(80877103).end().take();
    for (let off = 0; off < request.length;) off += await tcp.write(request.subarray(off));
    if ((await tcp.read(answer)) === null) {
      throw connectionError(`${cfg.label}: connection closed`, "CONNECTION_CLOSED");
    }
  } catch (err) {
    closeQuietly(tcp);
    throw err;
  }
  if (answer[0] === 0x53) { // 'S'
    const tls = await Deno.startTls(tcp, { hostname: cfg.host, caCerts: cfg.tls?.caCerts });
    try {
      await tls.handshake(); // a certificate refused fails here, with its reason
    } catch (err) {
      closeQuietly(tls);
      throw err;
    }
    return tls;
  }
  closeQuietly(tcp);
  if (answer[0] === 0x4e) { // 'N'
    throw connectionError(`${cfg.label}: the server does not accept TLS`, "TLS_REFUSED");
  }
  throw new ProtocolError(
    `${cfg.label}: the server's reply is not PostgreSQL's protocol (TLS answer 0x${
      answer[0].toString(16).padStart(2, "0")
    })`,
  );
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already, or handed to TLS.
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function readError(r: FrameReader): PgServerError {
  const fields = new Map<string, string>();
  while (r.pos < r.end) {
    const key = r.buf[r.pos++];
    if (key === 0) break;
    fields.set(String.fromCharCode(key), r.cstring());
  }
  return new PgServerError(fields);
}

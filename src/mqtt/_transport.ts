/**
 * Opens the byte stream a broker URL names: `mqtt://` and `tcp://` over
 * lunet/socket, `mqtts://`, `ssl://` and `tls://` over lunet/tls, `ws://`
 * and `wss://` over lunet/ws (subprotocol `mqtt`, binary messages; that
 * module is loaded only when such a URL is used).
 *
 * @module
 */
import { connect as connectTcp } from "../socket.ts";
import { connectTls } from "../tls.ts";
import { abandon, type WaitOptions } from "../_wait.ts";
import { readEnv } from "../_env.ts";

/** What the client needs of a connection. */
export interface Transport {
  /** The next chunk, or `null` at end of stream. */
  read(opts?: WaitOptions): Promise<Uint8Array | null>;
  /** Writes all of `bytes`. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes at once; parked reads and writes wake with `ClosedError`. */
  close(): void;
}

/** A broker address, parsed once by {@linkcode parseBrokerUrl}. */
export interface BrokerUrl {
  /** `"tcp"`, `"tls"`, or `"ws"` (WebSocket, `ws://` and `wss://`). */
  kind: "tcp" | "tls" | "ws";
  host: string;
  port: number;
  /** The URL as given, for messages (credentials removed). */
  label: string;
  /** For `"ws"`: the WebSocket URL, credentials removed. */
  href?: string;
  username?: string;
  password?: string;
}

const DEFAULT_PORTS: Record<string, [BrokerUrl["kind"], number]> = {
  "mqtt:": ["tcp", 1883],
  "tcp:": ["tcp", 1883],
  "mqtts:": ["tls", 8883],
  "ssl:": ["tls", 8883],
  "tls:": ["tls", 8883],
  "ws:": ["ws", 80],
  "wss:": ["ws", 443],
};

/** Parses `mqtt://host:port` and its kin; throws a `TypeError` for anything else. */
export function parseBrokerUrl(url: string | URL): BrokerUrl {
  let u: URL;
  try {
    u = url instanceof URL ? url : new URL(url);
  } catch {
    throw new TypeError(`mqtt connect: not a URL: ${JSON.stringify(String(url))}`);
  }
  const known = DEFAULT_PORTS[u.protocol];
  if (!known) {
    throw new TypeError(
      `mqtt connect ${u.protocol}//${u.host}: unsupported scheme ` +
        "(use mqtt://, mqtts://, tcp://, tls://, ws:// or wss://)",
    );
  }
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  if (!host) throw new TypeError(`mqtt connect ${u.href}: no host`);
  const port = u.port ? Number(u.port) : known[1];
  const out: BrokerUrl = {
    kind: known[0],
    host,
    port,
    label: `${u.protocol}//${u.host}`,
  };
  if (out.kind === "ws") {
    const clean = new URL(u.href);
    clean.username = "";
    clean.password = "";
    out.href = clean.href;
  }
  if (u.username) out.username = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  return out;
}

/** Connection settings: TLS for a `tls` broker, the socket backend for `tcp`. */
export interface TransportSettings {
  caCerts?: string[];
  insecure?: boolean;
  backend?: "deno" | "ffi";
}

/** Opens the connection to `broker` within `opts`. */
export async function openTransport(
  broker: BrokerUrl,
  settings: TransportSettings,
  opts: WaitOptions | undefined,
): Promise<Transport> {
  if (broker.kind === "ws") return await openWebSocket(broker, settings, opts);
  if (broker.kind === "tls") {
    return await connectTls(broker.host, broker.port, {
      ...opts,
      caCerts: settings.caCerts,
      dangerouslyDisableHostnameVerification: settings.insecure,
    });
  }
  const backend = settings.backend ?? (readEnv("LUNET_BACKEND") as "deno" | "ffi" | undefined) ??
    "deno";
  const conn = await connectTcp(broker.host, broker.port, { ...opts, backend });
  conn.setNoDelay(true);
  return conn;
}

async function openWebSocket(
  broker: BrokerUrl,
  settings: TransportSettings,
  opts: WaitOptions | undefined,
): Promise<Transport> {
  const { connect } = await import("../ws/connect.ts");
  const ws = await connect(broker.href!, {
    ...opts,
    protocols: ["mqtt"],
    caCerts: settings.caCerts,
    insecure: settings.insecure,
  });
  const encoder = new TextEncoder();
  return {
    async read(wait?: WaitOptions): Promise<Uint8Array | null> {
      const data = await ws.recv(wait);
      return typeof data === "string" ? encoder.encode(data) : data;
    },
    write: (bytes: Uint8Array): Promise<void> => ws.send(bytes),
    close(): void {
      abandon(ws.close(1000, "", { timeout: 1000 }));
    },
  };
}

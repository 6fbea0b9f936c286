/**
 * The supervisor of `serve({ workers })`: starts the workers, keeps their
 * number up (a worker that dies is replaced, at once the first time and
 * with a doubling pause while replacements keep dying young), enforces
 * the limits (a request past `requestTimeLimit`, or a worker silent that
 * long, ends the worker; a worker over its memory limit or its request
 * count is recycled: a replacement starts, then the old one drains),
 * restarts them all on SIGHUP (new ones up before old ones drain), names
 * the one worker that runs single interval handlers, answers status
 * questions, and holds the shared dictionaries.
 *
 * @module
 */
import { TimeoutError } from "../errors.ts";
import { park } from "../_wait.ts";
import type { SocketAddr } from "../socket.ts";
import { traceClose, traceOpen } from "../trace.ts";
import { localTable, type SharedSetup } from "../shared/_store.ts";
import type { Table, TableSizes } from "../shared/_table.ts";
import type { ServerShutdownOptions } from "./lifecycle.ts";
import { checkCertificate, loadCertificate, type TlsServeOptions } from "./_tls_serve.ts";
import { shutdownDeadline } from "./lifecycle.ts";
import { type HeldSockets, holdSockets } from "./_held_requests.ts";
import { ControlSocket } from "./_control_socket.ts";
import { judge } from "./_limits_watch.ts";
import { type Link, ProcessLink, type ProcessSpec, ThreadLink } from "./_worker_links.ts";
import type { Beat, FromWorker, WorkerConfig, WorkerServeOptions } from "./_worker_protocol.ts";
import type { WorkerInfo, WorkersServer } from "./workers.ts";

/** The supervisor's settings, resolved. */
export interface SupervisorSettings {
  count: number;
  isolation: "thread" | "process";
  module: string;
  options: WorkerServeOptions;
  requestTimeLimit?: number;
  maxHeapBytes?: number;
  maxRssBytes?: number;
  maxRequestsPerWorker?: number;
  recycleTimeout: number;
  statusPath?: string;
  flags: string[];
  shared: Record<string, TableSizes>;
  reloadSignal?: Deno.Signal;
}

/** Time given to workers past a drain deadline before they are ended. */
const GRACE_MS = 1000;
const BEAT_MS = 100;
/** A replacement that dies younger than this counts toward a crash loop. */
const YOUNG_MS = 2000;
const MAX_BACKOFF_MS = 10_000;
/** How long a recycled worker keeps idle connections open for a request on its way. */
const IDLE_GRACE_MS = 2000;

const STARTING = 0, LISTENING = 1, DRAINING = 2, ENDED = 3;
const STATES = ["starting", "listening", "draining", "ended"] as const;

interface Slot {
  id: number;
  link: Link;
  state: number;
  startedAt: number;
  beatAt: number;
  beat: Beat | undefined;
  leader: boolean;
  retiring: boolean;
  killAt: number;
  why: string;
  held: HeldSockets | undefined;
  trace: number;
  listening: Array<(ok: boolean) => void>;
}

/** The workers of one `serve({ workers })` call. */
export class Supervisor implements WorkersServer {
  readonly addr: SocketAddr;
  readonly finished: Promise<void>;
  #s: SupervisorSettings;
  #slots: Slot[] = [];
  #nextId = 1;
  #changed = new Set<() => void>();
  #startFailure: Error | undefined;
  #starting = true;
  #draining = false;
  #shutdown: Promise<void> | null = null;
  #finished: () => void = () => {};
  #monitor: ReturnType<typeof setInterval>;
  #young = 0;
  #pendingStarts = new Set<ReturnType<typeof setTimeout>>();
  #control: ControlSocket | undefined;
  #tables = new Map<string, Table>();
  #onReload = (): void => void this.restart().catch(() => {});

  constructor(addr: SocketAddr, settings: SupervisorSettings) {
    this.addr = addr;
    this.#s = settings;
    this.finished = new Promise((resolve) => this.#finished = resolve);
    for (const [name, sizes] of Object.entries(settings.shared)) {
      this.#tables.set(name, localTable(name, sizes));
    }
    this.#monitor = setInterval(() => this.#check(), BEAT_MS);
  }

  get connections(): number {
    let n = 0;
    for (const slot of this.#slots) if (slot.state !== ENDED) n += slot.beat?.connections ?? 0;
    return n;
  }

  /** Starts the workers; resolves once all listen, rejects (all ended) if one fails. */
  async start(): Promise<void> {
    try {
      if (this.#s.isolation === "process") {
        this.#control = await ControlSocket.open(this.#tables, (id, conn, reader) => {
          const link = this.#slots.find((s) => s.id === id)?.link;
          if (!(link instanceof ProcessLink)) return false;
          link.attach(conn, reader);
          return true;
        });
      }
      const slots = [];
      for (let i = 0; i < this.#s.count; i++) slots.push(this.#spawn());
      const up = await Promise.all(slots.map((slot) => this.#listening(slot)));
      if (this.#startFailure) throw this.#startFailure;
      const down = up.indexOf(false);
      if (down >= 0) throw new Error(`lunet/http worker ${slots[down].id} ${slots[down].why}`);
    } catch (err) {
      await this.#abort();
      throw err;
    } finally {
      this.#starting = false;
    }
    this.#elect();
    if (this.#s.reloadSignal) Deno.addSignalListener(this.#s.reloadSignal, this.#onReload);
  }

  workers(): WorkerInfo[] {
    const now = Date.now();
    return this.#slots.filter((s) => s.state !== ENDED).map((s) => ({
      id: s.id,
      pid: s.link.pid,
      isolation: this.#s.isolation,
      state: STATES[s.state] as WorkerInfo["state"],
      leader: s.leader,
      startedAt: s.startedAt,
      uptimeMs: now - s.startedAt,
      requests: s.beat?.requests ?? 0,
      connections: s.beat?.connections ?? 0,
      heapBytes: s.beat?.heapBytes ?? 0,
      rssBytes: s.beat?.rssBytes ?? 0,
    }));
  }

  async restart(): Promise<void> {
    if (this.#draining) return;
    const old = this.#slots.filter((s) => s.state === LISTENING && !s.retiring);
    await Promise.all(old.map((slot) => this.#retire(slot, "rolling restart")));
  }

  shutdown(opts: ServerShutdownOptions = {}): Promise<void> {
    return this.#shutdown ??= this.#drainAll(shutdownDeadline(opts));
  }

  async setCertificates(certs: TlsServeOptions): Promise<void> {
    if (this.#s.options.cert === undefined) {
      throw new TypeError("http: setCertificates on a server without TLS");
    }
    const pair = await loadCertificate(certs);
    checkCertificate(pair);
    // Replacements start with the new pair too.
    this.#s.options = { ...this.#s.options, ...pair };
    for (const slot of this.#slots) {
      if (slot.state === LISTENING) slot.link.send({ type: "certificates", ...pair });
    }
  }

  // --- workers ------------------------------------------------------------

  #spawn(): Slot {
    const id = this.#nextId++;
    const config: WorkerConfig = {
      id,
      isolation: this.#s.isolation,
      module: this.#s.module,
      options: this.#s.options,
      beatMs: BEAT_MS,
      requestTimeLimit: this.#s.requestTimeLimit,
      statusPath: this.#s.statusPath,
      shared: this.#sharedSetup(id),
    };
    const name = `lunet/http worker ${id}`;
    const now = Date.now();
    const slot = {
      id,
      state: STARTING,
      startedAt: now,
      beatAt: now,
      beat: undefined,
      leader: false,
      retiring: false,
      killAt: 0,
      why: "",
      held: undefined,
      trace: traceOpen("worker", name),
      listening: [],
    } as unknown as Slot;
    const events = {
      message: (msg: FromWorker) => this.#message(slot, msg),
      exit: (why: string) => this.#exited(slot, why),
    };
    slot.link = this.#s.isolation === "process"
      ? new ProcessLink(id, this.#processSpec(), events)
      : new ThreadLink(name, events);
    this.#slots.push(slot);
    slot.link.send({ type: "start", config });
    return slot;
  }

  #sharedSetup(id: number): SharedSetup {
    if (this.#s.isolation === "process") {
      return { kind: "socket", path: this.#control!.path, names: [...this.#tables.keys()] };
    }
    const buffers: Record<string, SharedArrayBuffer> = {};
    for (const [name, table] of this.#tables) buffers[name] = table.buffer;
    // Token 1 is this thread's; a worker's is its id + 1.
    return { kind: "buffers", token: id + 1, buffers };
  }

  #processSpec(): ProcessSpec {
    return { flags: this.#s.flags, socket: this.#control!.path };
  }

  // Resolves once `slot` listens; with `false` if it ended first.
  #listening(slot: Slot): Promise<boolean> {
    if (slot.state === LISTENING) return Promise.resolve(true);
    if (slot.state !== STARTING) return Promise.resolve(false);
    return new Promise((resolve) => slot.listening.push(resolve));
  }

  #message(slot: Slot, msg: FromWorker): void {
    switch (msg.type) {
      case "beat":
        slot.beat = msg;
        slot.beatAt = Date.now();
        return this.#checkLimits(slot, slot.beatAt);
      case "listening":
        if (slot.state !== STARTING) return;
        slot.state = LISTENING;
        slot.startedAt = slot.beatAt = Date.now();
        for (const resolve of slot.listening.splice(0)) resolve(true);
        if (!this.#starting) this.#elect();
        break;
      case "failed":
        if (this.#starting) this.#startFailure ??= new Error(`lunet/http worker: ${msg.message}`);
        else console.error(`lunet/http: worker ${slot.id} failed to start: ${msg.message}`);
        slot.link.kill();
        break;
      case "report":
        console.error(`lunet/http: worker ${slot.id}: ${msg.message}`);
        return;
      case "crashed":
        slot.why = `crashed: ${msg.message}`;
        this.#stop(slot, slot.why, false);
        return;
      case "status?":
        slot.link.send({ type: "status", ask: msg.ask, workers: this.workers() });
        return;
      case "finished":
        slot.link.kill();
        break;
    }
    this.#notify();
  }

  #exited(slot: Slot, why: string): void {
    const was = slot.state;
    if (was === ENDED) return;
    const active = !slot.retiring;
    slot.state = ENDED;
    why = slot.why ||= why;
    slot.leader = false;
    traceClose("worker", slot.trace);
    for (const resolve of slot.listening.splice(0)) resolve(false);
    const answered = slot.held?.answer();
    slot.held = undefined;
    if (answered) why += `; ${answered} waiting request${answered > 1 ? "s" : ""} answered 503`;
    this.#slots.splice(this.#slots.indexOf(slot), 1);
    // A writer that died inside a write leaves the lock to be recovered.
    for (const table of this.#tables.values()) table.recover(slot.id + 1);
    if (active && !this.#starting && !this.#draining) {
      const age = Date.now() - slot.startedAt;
      this.#young = was === STARTING || age < YOUNG_MS ? this.#young + 1 : 1;
      const pause = this.#young <= 1 ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** (this.#young - 2));
      const loop = this.#young >= 3 ? `; crash loop: ${this.#young} in a row, ` : "; ";
      console.error(
        `lunet/http: worker ${slot.id} (pid ${slot.link.pid}) ${why}${loop}replacing it` +
          (pause ? ` in ${pause} ms` : ""),
      );
      this.#replace(pause);
    }
    this.#elect();
    this.#notify();
  }

  #replace(pause: number): void {
    if (pause === 0) return void this.#spawn();
    const timer = setTimeout(() => {
      this.#pendingStarts.delete(timer);
      if (!this.#draining) this.#spawn();
    }, pause);
    this.#pendingStarts.add(timer);
  }

  // Starts a replacement for `slot`, then drains `slot` once it listens.
  async #retire(slot: Slot, why: string): Promise<void> {
    if (slot.retiring || slot.state !== LISTENING) return;
    slot.retiring = true;
    if (why !== "rolling restart") {
      console.error(`lunet/http: worker ${slot.id} (pid ${slot.link.pid}) ${why}; recycling it`);
    }
    this.#spawn();
    // Drain once enough others listen (a replacement that fails is replaced in turn).
    const up = () => this.#slots.filter((s) => s.state === LISTENING && !s.retiring).length;
    await this.#until(() => this.#draining || slot.state === ENDED || up() >= this.#s.count);
    if (this.#draining) return;
    // Idle connections stay open a moment, so a request already sent on
    // one is answered (with Connection: close) rather than reset.
    const recycle = this.#s.recycleTimeout;
    this.#drain(slot, Date.now() + recycle, Math.min(IDLE_GRACE_MS, recycle / 2));
    this.#elect();
    await this.#ended(slot);
  }

  #drain(slot: Slot, deadline: number, idleGrace = 0): void {
    if (slot.state === ENDED || slot.state === DRAINING) return;
    slot.state = DRAINING;
    slot.leader = false;
    slot.killAt = deadline + GRACE_MS;
    slot.link.send({ type: "shutdown", deadline, idleGrace });
  }

  #ended(slot: Slot): Promise<void> {
    return this.#until(() => slot.state === ENDED);
  }

  // Names one listening, non-retiring worker to run single interval handlers.
  #elect(): void {
    if (this.#starting || this.#draining) return;
    const live = (s: Slot) => s.state === LISTENING && !s.retiring;
    const leader = this.#slots.find((s) => s.leader);
    if (leader && live(leader)) return;
    if (leader) {
      leader.leader = false;
      leader.link.send({ type: "leader", on: false });
    }
    const next = this.#slots.find(live);
    if (!next) return;
    next.leader = true;
    next.link.send({ type: "leader", on: true });
  }

  // --- limits --------------------------------------------------------------

  #check(): void {
    const now = Date.now();
    for (const slot of [...this.#slots]) {
      if (slot.state === DRAINING && now > slot.killAt) slot.link.kill();
      else if (slot.state === LISTENING) this.#checkLimits(slot, now);
    }
  }

  #checkLimits(slot: Slot, now: number): void {
    if (slot.state !== LISTENING) return;
    const verdict = judge(this.#s, slot.beat, now - slot.beatAt, BEAT_MS, now);
    if (verdict && "stop" in verdict) this.#stop(slot, verdict.stop);
    else if (verdict && !slot.retiring) void this.#retire(slot, verdict.retire);
  }

  // Ends a worker that cannot drain (stuck, or crashed); #exited replaces
  // it. A process is killed. A thread is asked to close its sockets at
  // once first (those of the ffi backend outlive a terminated thread),
  // and terminated after GRACE_MS whatever it does.
  #stop(slot: Slot, why: string, stuck = true): void {
    if (stuck) {
      console.error(`lunet/http: worker ${slot.id} (pid ${slot.link.pid}) ${why}; ending it`);
      slot.startedAt = 0; // not young: replaced at once
    }
    if (this.#s.isolation === "process") {
      // Its waiting clients get a 503 once it is dead (see ./_held_requests.ts).
      if (stuck && slot.held === undefined) {
        const last = { held: slot.beat?.held ?? [], ago: Date.now() - slot.beatAt };
        slot.held = holdSockets(slot.link.pid, this.addr.port!, last);
      }
      return slot.link.kill();
    }
    if (slot.state !== LISTENING) return slot.link.kill();
    const now = Date.now();
    slot.state = DRAINING;
    slot.killAt = now + GRACE_MS;
    slot.link.send({ type: "shutdown", deadline: now });
  }

  // --- shutdown ------------------------------------------------------------

  #notify(): void {
    for (const fn of [...this.#changed]) fn();
  }

  #until(done: () => boolean, deadline?: number): Promise<void> {
    return park<void>(
      "http workers",
      deadline === undefined ? undefined : { deadline },
      (resolve) => {
        if (done()) return resolve();
        const check = () => {
          if (!done()) return;
          this.#changed.delete(check);
          resolve();
        };
        this.#changed.add(check);
        return () => this.#changed.delete(check);
      },
    );
  }

  async #drainAll(deadline: number): Promise<void> {
    this.#draining = true;
    if (this.#s.reloadSignal) Deno.removeSignalListener(this.#s.reloadSignal, this.#onReload);
    for (const t of this.#pendingStarts) clearTimeout(t);
    this.#pendingStarts.clear();
    for (const slot of this.#slots) {
      if (slot.state === STARTING) slot.link.kill();
      else this.#drain(slot, deadline);
    }
    try {
      await this.#until(() => this.#slots.length === 0, deadline + GRACE_MS);
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err;
    } finally {
      await this.#abort();
      this.#finished();
    }
  }

  // Ends every worker and releases the supervisor's own resources.
  async #abort(): Promise<void> {
    this.#draining = true;
    for (const slot of [...this.#slots]) slot.link.kill();
    await this.#until(() => this.#slots.length === 0);
    clearInterval(this.#monitor);
    await this.#control?.close();
    this.#control = undefined;
  }
}

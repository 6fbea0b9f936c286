/**
 * Where a shared dictionary's entries live, seen from one thread: a
 * {@linkcode Table} in shared memory (this process), or the supervisor's
 * table over a Unix socket (a process worker). The registry maps a
 * dictionary's name to its store for this thread.
 *
 * @module
 */
import { type Entry, Table, type TableSizes, type Value } from "./_table.ts";
import { RemoteStore } from "./_client.ts";

/** The operations a dictionary needs from where its entries live. */
export interface Store {
  get(key: string): Value | undefined | Promise<Value | undefined>;
  set(key: string, value: Value, ttl: number, onlyIfAbsent: boolean): boolean | Promise<boolean>;
  incr(key: string, by: number, ttl: number): number | Promise<number>;
  delete(key: string): boolean | Promise<boolean>;
  entries(): Entry[] | Promise<Entry[]>;
  clear(): void | Promise<void>;
}

/** Sizes of a dictionary nobody declared. */
export const DEFAULT_SIZES: TableSizes = { capacity: 1024, maxKeyBytes: 128, maxValueBytes: 1024 };

/** How a worker reaches its server's dictionaries (structured-cloneable). */
export type SharedSetup =
  | { kind: "buffers"; token: number; buffers: Record<string, SharedArrayBuffer> }
  | { kind: "socket"; path: string; names: string[] };

/** The writer token of this process's own tables. */
const LOCAL_TOKEN = 1;

/** The dictionaries this thread sees. */
class Registry {
  #stores = new Map<string, Store>();
  #tables = new Map<string, Table>();
  #remote: RemoteStore | undefined;
  #setup: SharedSetup | undefined;

  constructor(setup?: SharedSetup) {
    this.#setup = setup;
    if (setup?.kind === "buffers") {
      for (const [name, buffer] of Object.entries(setup.buffers)) {
        const table = new Table(buffer, setup.token);
        this.#tables.set(name, table);
        this.#stores.set(name, table);
      }
    }
  }

  store(name: string): Store {
    const known = this.#stores.get(name);
    if (known) return known;
    const setup = this.#setup;
    if (setup?.kind === "socket") {
      if (!setup.names.includes(name)) throw unknown(name, setup.names);
      this.#remote ??= new RemoteStore(setup.path);
      const store = this.#remote.dictionary(name);
      this.#stores.set(name, store);
      return store;
    }
    if (setup?.kind === "buffers") throw unknown(name, Object.keys(setup.buffers));
    return this.table(name, DEFAULT_SIZES);
  }

  // This process's own table `name`, made with `sizes` when missing.
  table(name: string, sizes: TableSizes): Table {
    let table = this.#tables.get(name);
    if (!table) {
      table = Table.create(sizes, LOCAL_TOKEN);
      this.#tables.set(name, table);
      this.#stores.set(name, table);
    }
    return table;
  }

  get tables(): ReadonlyMap<string, Table> {
    return this.#tables;
  }

  close(): void {
    this.#remote?.close();
    this.#remote = undefined;
  }
}

function unknown(name: string, names: string[]): Error {
  return new RangeError(
    `shared: no dictionary ${JSON.stringify(name)} on this server (declared: ${names.join(", ")})`,
  );
}

let registry: Registry | undefined;

/** This thread's registry (a process-local one until a worker installs its own). */
export function registryStore(name: string): Store {
  return (registry ??= new Registry()).store(name);
}

/** Installs the dictionaries a worker was started with. */
export function installShared(setup: SharedSetup): void {
  registry?.close();
  registry = new Registry(setup);
}

/** Closes this thread's connection to the supervisor's dictionaries. */
export function closeShared(): void {
  registry?.close();
}

/** This process's own table `name` (a supervisor's), made with `sizes` when missing. */
export function localTable(name: string, sizes: TableSizes): Table {
  return (registry ??= new Registry()).table(name, sizes);
}

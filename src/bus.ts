/**
 * A message bus: fan-out by topic (`publish`, `subscribe` → async
 * iterable) and a bounded replay log by stream (`append` → id,
 * `readAfter`), behind one interface with two implementations:
 * {@linkcode localBus} within one process (across its workers too) and
 * {@linkcode redisBus} across processes and machines on Redis (pub/sub
 * and Streams). Data is text; encode anything else (JSON, base64).
 * Importing this module loads no npm package: `redisBus` takes a
 * connection opened with `@lunet/lunet/redis`.
 *
 * @example
 * ```ts
 * import { localBus } from "@lunet/lunet/bus";
 * const bus = localBus();
 * const sub = await bus.subscribe("jobs");
 * await bus.publish("jobs", JSON.stringify({ id: 1 }));
 * const msg = await sub.next({ timeout: 1000 });
 * if (JSON.parse(msg!.data).id !== 1) throw new Error("fan-out");
 * await bus.close();
 * ```
 * @module
 */
export type { WaitOptions } from "./_wait.ts";
export type { Bus, BusEntry, BusMessage, BusSubscription, ReadOptions } from "./bus/_types.ts";
export { localBus, type LocalBusOptions } from "./bus/_local.ts";
export { redisBus, type RedisBusOptions } from "./bus/_redis.ts";

// The connection pool on its own: it does no I/O, so it runs here over
// in-memory connections that record when they are opened and closed.
import assert from "node:assert/strict";
import { ClosedError, TimeoutError } from "../mod.ts";
import { Pool } from "../drivers/_pool.ts";
import { noLeaks } from "./leak.ts";

/** An in-memory connection: its number in opening order, and its state. */
class FakeConn {
  readonly id: number;
  alive = true;
  closed = false;
  constructor(id: number) {
    this.id = id;
  }
}

/** A pool over {@linkcode FakeConn}s, and every connection it opened. */
function fakePool(limits: { max: number; pipeline?: number }) {
  const opened: FakeConn[] = [];
  const pool = new Pool<FakeConn>("fake", () => {
    const c = new FakeConn(opened.length);
    opened.push(c);
    return Promise.resolve(c);
  }, (c) => {
    c.closed = true;
    return Promise.resolve();
  }, { ...limits, alive: (c) => c.alive });
  return { pool, opened };
}

/** True when `p` is still pending once the queued callbacks and timers have run. */
async function pending(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(() => settled = true, () => settled = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  return !settled;
}

Deno.test(
  "pool wakes waiters for a connection in the order they came",
  noLeaks(async () => {
    const { pool, opened } = fakePool({ max: 1 });
    const held = await pool.acquire();
    const order: number[] = [];
    const waiters = [0, 1, 2].map((i) =>
      pool.acquire().then((c) => {
        order.push(i);
        assert.equal(c, held);
        pool.release(c);
      })
    );
    pool.release(held);
    await Promise.all(waiters);
    assert.deepEqual(order, [0, 1, 2]);
    assert.equal(opened.length, 1);
    await pool.close();
  }),
);

Deno.test(
  "pool opens no more than max connections and hands a released one to the next waiter",
  noLeaks(async () => {
    const { pool, opened } = fakePool({ max: 2 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    assert.notEqual(a, b);
    assert.equal(pool.tryAcquire(), undefined);
    const third = pool.acquire();
    assert.ok(await pending(third));
    assert.equal(opened.length, 2);
    assert.equal(pool.size, 2);
    pool.release(b);
    assert.equal(await third, b);
    pool.release(a);
    pool.release(b);
    assert.equal(opened.length, 2);
    await pool.close();
    assert.ok(opened.every((c) => c.closed));
  }),
);

Deno.test(
  "pool lends one connection to up to pipeline shared takers, and shared takers queue behind an exclusive one",
  noLeaks(async () => {
    const { pool, opened } = fakePool({ max: 1, pipeline: 3 });
    const shared = [
      await pool.acquire(undefined, true),
      await pool.acquire(undefined, true),
      await pool.acquire(undefined, true),
    ];
    assert.equal(opened.length, 1);
    assert.ok(shared.every((c) => c === opened[0]));
    assert.equal(pool.tryAcquire(true), undefined);
    const fourth = pool.acquire(undefined, true);
    assert.ok(await pending(fourth));
    pool.release(shared.pop()!);
    shared.push(await fourth);

    // An exclusive taker waits for every shared statement to end, and a
    // shared taker that comes after it waits behind it.
    pool.release(shared.pop()!);
    const exclusive = pool.acquire();
    assert.equal(pool.tryAcquire(true), undefined);
    const late = pool.acquire(undefined, true);
    pool.release(shared.pop()!);
    assert.ok(await pending(exclusive));
    pool.release(shared.pop()!);
    const c = await exclusive;
    assert.ok(await pending(late));
    pool.release(c);
    pool.release(await late);
    assert.equal(opened.length, 1);
    await pool.close();
  }),
);

Deno.test(
  "pool closes a connection released as broken and opens a new one in its slot for the next waiter",
  noLeaks(async () => {
    const { pool, opened } = fakePool({ max: 1 });
    const broken = await pool.acquire();
    const waiter = pool.acquire();
    assert.ok(await pending(waiter));
    pool.release(broken, true);
    const fresh = await waiter;
    assert.notEqual(fresh, broken);
    assert.ok(broken.closed);
    assert.equal(opened.length, 2);
    assert.equal(pool.size, 1);
    pool.release(broken); // a second release of a dropped connection is ignored
    assert.equal(pool.tryAcquire(), undefined);
    pool.release(fresh);
    assert.equal(pool.tryAcquire(), fresh);
    pool.release(fresh);
    await pool.close();
  }),
);

Deno.test(
  "pool closes an idle connection that is no longer alive instead of handing it out",
  noLeaks(async () => {
    const { pool, opened } = fakePool({ max: 2 });
    const dead = await pool.acquire();
    pool.release(dead);
    dead.alive = false;
    const c = await pool.acquire();
    assert.notEqual(c, dead);
    assert.ok(dead.closed);
    assert.equal(opened.length, 2);
    assert.equal(pool.size, 1);
    pool.release(c);
    await pool.close();
  }),
);

Deno.test(
  "pool close wakes waiters with ClosedError and waits for connections in use",
  noLeaks(async () => {
    const { pool } = fakePool({ max: 1 });
    const held = await pool.acquire();
    const waiters = [pool.acquire(), pool.acquire(undefined, true)];
    assert.ok(await pending(waiters[0]));
    const closing = pool.close();
    for (const w of waiters) await assert.rejects(w, ClosedError);
    await assert.rejects(pool.acquire(), ClosedError);
    assert.equal(pool.tryAcquire(), undefined);
    assert.ok(await pending(closing));
    assert.equal(held.closed, false);
    pool.release(held);
    await closing;
    assert.ok(held.closed);
    assert.equal(pool.size, 0);
  }),
);

Deno.test(
  "pool waiter gives up at its timeout and leaves the queue",
  noLeaks(async () => {
    const { pool } = fakePool({ max: 1 });
    const held = await pool.acquire();
    const started = Date.now();
    await assert.rejects(pool.acquire({ timeout: 30 }), TimeoutError);
    assert.ok(Date.now() - started >= 25);
    pool.release(held);
    // The connection went back to the pool, not to the waiter that gave up.
    assert.equal(pool.tryAcquire(), held);
    pool.release(held);
    await pool.close();
  }),
);

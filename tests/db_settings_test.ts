/**
 * Bad settings given to a driver's `open()`: each is refused before any
 * connection is tried, as a rejected promise (never a synchronous throw,
 * never an uncaught error inside the client library), with a message that
 * names the driver and the setting and does not repeat a password.
 */
import assert from "node:assert/strict";
import * as mysql from "../drivers/mysql.ts";
import * as postgres from "../drivers/postgres.ts";
import * as redis from "../drivers/redis.ts";
import * as sqlite from "../drivers/sqlite.ts";
import { noLeaks } from "./leak.ts";

type Open = (config: never) => Promise<{ close(): Promise<void> }>;

/** A setting, the error class it must be refused with, and what the message must say. */
type Case = [label: string, config: unknown, error: ErrorConstructor, message: RegExp];

/** Cases every server driver shares; `scheme` is its own URL scheme. */
function serverCases(driver: string, scheme: string): Case[] {
  return [
    ["not a URL", "::not a url", TypeError, new RegExp(`^${driver}: invalid URL "::not a url"`)],
    [
      "a URL whose port is out of range, with a password",
      `${scheme}//u:s3cret@h:99999/db`,
      TypeError,
      new RegExp(`^${driver}: invalid URL "${scheme}//u:\\*\\*\\*@h:99999/db"`),
    ],
    [
      "another scheme",
      "http://example.com/db",
      TypeError,
      new RegExp(`^${driver}: URL scheme "http:" is not ${scheme}`),
    ],
    [
      "port below 1",
      { port: -1 },
      RangeError,
      new RegExp(`^${driver}: port must be an integer from 1 to 65535, got -1$`),
    ],
    [
      "port above 65535",
      { port: 70000 },
      RangeError,
      /port must be an integer from 1 to 65535, got 70000$/,
    ],
    [
      "fractional port",
      { port: 1.5 },
      RangeError,
      /port must be an integer from 1 to 65535, got 1.5$/,
    ],
    [
      "port as text",
      { port: "5432" },
      RangeError,
      /port must be an integer from 1 to 65535, got "5432"$/,
    ],
    [
      "empty host",
      { host: "" },
      TypeError,
      new RegExp(`^${driver}: host must be a non-empty string, got ""$`),
    ],
    [
      "a number",
      42,
      TypeError,
      new RegExp(`^${driver}: settings must be a URL string or an object, got 42$`),
    ],
    ["null", null, TypeError, /settings must be a URL string or an object, got null$/],
    [
      "negative connectTimeout",
      { connectTimeout: -1 },
      RangeError,
      /connectTimeout must be a number of milliseconds from 0, got -1$/,
    ],
    [
      "NaN connectTimeout",
      { connectTimeout: NaN },
      RangeError,
      /connectTimeout must be a number of milliseconds from 0, got NaN$/,
    ],
  ];
}

const poolCases = (driver: string, url: string): Case[] => [
  [
    "pool 0",
    { pool: 0 },
    RangeError,
    new RegExp(`^${driver}: pool must be a positive integer, got 0$`),
  ],
  ["negative pool", { pool: -3 }, RangeError, /pool must be a positive integer, got -3$/],
  [
    "pool in the URL not a number",
    `${url}?pool=abc`,
    RangeError,
    /pool must be a positive integer, got "abc"$/,
  ],
];

const drivers: { name: string; open: Open; cases: Case[] }[] = [
  {
    name: "postgres",
    open: postgres.open as Open,
    cases: [
      ...serverCases("postgres", "postgres:"),
      ...poolCases("postgres", "postgres://postgres@127.0.0.1:5432/test"),
      [
        "pipeline 0",
        { pipeline: 0 },
        RangeError,
        /^postgres: pipeline must be a positive integer, got 0$/,
      ],
    ],
  },
  {
    name: "mysql",
    open: mysql.open as Open,
    cases: [
      ...serverCases("mysql", "mysql:"),
      ...poolCases("mysql", "mysql://root@127.0.0.1:3306/test"),
    ],
  },
  {
    name: "redis",
    open: redis.open as Open,
    cases: [
      ...serverCases("redis", "redis:"),
      [
        "database not a number",
        "redis://127.0.0.1:6379/abc",
        RangeError,
        /^redis: database must be an integer from 0, got "abc"$/,
      ],
      [
        "negative database",
        { database: -1 },
        RangeError,
        /^redis: database must be an integer from 0, got -1$/,
      ],
      [
        "blockingPool 0",
        { blockingPool: 0 },
        RangeError,
        /^redis: blockingPool must be a positive integer, got 0$/,
      ],
      [
        "subscriptionLimit 0",
        { subscriptionLimit: 0 },
        RangeError,
        /^redis: subscriptionLimit must be a positive integer, got 0$/,
      ],
      [
        "negative maxReconnectDelay",
        { maxReconnectDelay: -5 },
        RangeError,
        /^redis: maxReconnectDelay must be a number of milliseconds from 0, got -5$/,
      ],
    ],
  },
  {
    name: "sqlite",
    open: sqlite.open as Open,
    cases: [
      ["a number", 42, TypeError, /^sqlite: settings must be a path string or an object, got 42$/],
      ["null", null, TypeError, /^sqlite: settings must be a path string or an object, got null$/],
      ["no path", {}, TypeError, /^sqlite: path must be a string, got undefined$/],
      ["a path that is not text", { path: 7 }, TypeError, /^sqlite: path must be a string, got 7$/],
      [
        "negative readers",
        { path: ":memory:", readers: -1 },
        RangeError,
        /^sqlite: readers must be an integer from 0, got -1$/,
      ],
      [
        "negative busyTimeout",
        { path: ":memory:", busyTimeout: -1 },
        RangeError,
        /^sqlite: busyTimeout must be a number of milliseconds from 0, got -1$/,
      ],
      [
        "NaN idleTimeout",
        { path: ":memory:", idleTimeout: NaN },
        RangeError,
        /^sqlite: idleTimeout must be a number of milliseconds from 0, got NaN$/,
      ],
      [
        "loopBudget 0",
        { path: ":memory:", loopBudget: 0 },
        RangeError,
        /^sqlite: loopBudget must be a positive number of milliseconds, got 0$/,
      ],
    ],
  },
];

for (const { name, open, cases } of drivers) {
  Deno.test(
    `${name}: open() refuses bad settings with a clear rejection and connects nowhere`,
    noLeaks(async (t) => {
      for (const [label, config, error, message] of cases) {
        await t.step(label, async () => {
          let opening: Promise<{ close(): Promise<void> }>;
          try {
            opening = open(config as never);
          } catch (err) {
            assert.fail(`open() threw synchronously instead of rejecting: ${err}`);
          }
          const got = await opening.then(
            async (db) => {
              await db.close();
              return new Error("opened");
            },
            (err: unknown) => err,
          );
          assert.ok(got instanceof error, `${label}: ${got}`);
          assert.match((got as Error).message, message);
          assert.doesNotMatch((got as Error).message, /s3cret/);
        });
      }
    }),
  );
}

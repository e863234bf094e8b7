/** Following the primary (primary.ts) against a real primary + hot standby (test/pg-standby.ts). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { fromPostgres } from "../http/error-handler.ts";
import { startPrimaryAndStandby, type PgPair } from "../../test/pg-standby.ts";
import { waitFor } from "../../test/wait.ts";
import { connect, type Sql } from "./client.ts";
import { errorCode } from "./errors.ts";
import { migrate } from "./migrate.ts";
import { NO_PRIMARY, serverMessages } from "./primary.ts";

let pair: PgPair;
beforeAll(async () => { pair = await startPrimaryAndStandby(); }, 120_000);
afterAll(async () => { await pair?.stop(); }, 60_000);

const session = (url: string) => postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
const pool = (url: string, changes: (string | undefined)[] = []) =>
  connect({ url, poolMax: 3, statementTimeoutMs: 5_000, responseTimeoutMs: 7_000, applicationName: "linkfort-test-primary", onPrimaryChange: (p) => changes.push(p) }).sql;
/** The error a statement failed with (undefined if it succeeded). */
const failure = (sql: Sql, text: string) => sql.unsafe(text).then(() => undefined, (e: unknown) => e);

test("server messages are read across chunk boundaries; only ParameterStatus and ErrorResponse bodies are kept", () => {
  const seen: [string, string][] = [];
  const read = serverMessages((type, body) => seen.push([String.fromCharCode(type), new TextDecoder().decode(body)]));
  const message = (type: string, body: string) => {
    const bytes = new TextEncoder().encode(body);
    const out = new Uint8Array(5 + bytes.length);
    out[0] = type.charCodeAt(0);
    new DataView(out.buffer).setUint32(1, bytes.length + 4);
    out.set(bytes, 5);
    return out;
  };
  const wire = Buffer.concat([message("S", "in_hot_standby\0on\0"), message("D", "x".repeat(300)), message("Z", "I"), message("E", "SERROR\0C25006\0\0")]);
  for (let i = 0; i < wire.length; i += 7) read(wire.subarray(i, i + 7));
  expect(seen).toEqual([["S", "in_hot_standby\0on\0"], ["E", "SERROR\0C25006\0\0"]]);
});

describe("a pool on the cluster URL", () => {
  test("a statement on a standby fails with 25006, which the API answers 503 with Retry-After", async () => {
    const standby = session(pair.standbyUrl());
    const error = await standby`create table nope (id int)`.then(() => undefined, (e: unknown) => e);
    await standby.end();
    expect(errorCode(error)).toBe("25006");
    expect(fromPostgres(error)).toMatchObject({ status: 503, headers: { "Retry-After": "5" }, body: { error: "Service Unavailable" } });
  });

  test("a primary that turns read-only is left (its connections closed), writes fail fast meanwhile, and come back when it accepts writes again", async () => {
    const changes: (string | undefined)[] = [];
    const sql = pool(pair.clusterUrl(), changes);
    const admin = session(pair.primaryUrl());
    try {
      await sql`create table if not exists marks (id int)`;
      expect(changes).toEqual([`127.0.0.1:${pair.primaryPort}`]);
      // What a demoted primary looks like to a session that stays connected: read-only from now on.
      await admin`alter system set default_transaction_read_only = on`;
      await admin`select pg_reload_conf()`;
      const refused = await waitFor("a write to be refused", async () => failure(sql, "insert into marks values (1)"), 20_000, { everyMs: 20 });
      expect(["25006", NO_PRIMARY]).toContain(errorCode(refused)!);
      expect(fromPostgres(refused)?.status).toBe(503);
      // No host accepts writes now: each attempt fails at once with NO_PRIMARY, none waits on a connection.
      const next = await waitFor("a write to fail with NO_PRIMARY", async () => {
        const e = await failure(sql, "insert into marks values (2)");
        return errorCode(e) === NO_PRIMARY ? e : undefined;
      }, 20_000, { everyMs: 20 });
      expect(fromPostgres(next)).toMatchObject({ status: 503, body: { error: "Service Unavailable" } });
      expect(changes.at(-1)).toBeUndefined();

      await admin`alter system reset default_transaction_read_only`;
      await admin`select pg_reload_conf()`;
      await waitFor("writes to succeed again", async () => (await failure(sql, "insert into marks values (3)")) === undefined, 20_000, { everyMs: 50 });
      expect(changes.at(-1)).toBe(`127.0.0.1:${pair.primaryPort}`);
    } finally {
      await admin`alter system reset default_transaction_read_only`.catch(() => {});
      await admin`select pg_reload_conf()`.catch(() => {});
      await admin.end();
      await sql.end({ timeout: 1 });
    }
  }, 60_000);

  test("migrations and reserved connections (advisory locks: migrations, the click adopter) run on the primary", async () => {
    const admin = session(pair.primaryUrl());
    await admin`create database migrated`;
    await admin.end();
    const sql = pool(pair.clusterUrl("migrated"));
    try {
      expect((await migrate(sql)).applied).toBeGreaterThan(0);
      const reserved = await sql.reserve();
      try {
        const [row] = await reserved<{ port: number; locked: boolean }[]>`select inet_server_port() as port, pg_try_advisory_lock(7) as locked`;
        expect(row).toEqual({ port: pair.primaryPort, locked: true });
      } finally {
        reserved.release();
      }
    } finally {
      await sql.end({ timeout: 1 });
    }
  }, 60_000);

  test("with the primary gone and the standby not promoted, a query fails with NO_PRIMARY instead of hanging", async () => {
    const sql = pool(pair.clusterUrl());
    try {
      await sql`select 1`;
      await pair.killPrimary();
      const error = await waitFor("a query to fail with NO_PRIMARY", async () => {
        const e = await failure(sql, "select 1");
        return errorCode(e) === NO_PRIMARY ? e : undefined;
      }, 20_000, { everyMs: 20 });
      expect(fromPostgres(error)?.status).toBe(503);
      await pair.promote();
      await waitFor("the promoted standby to answer", async () => (await failure(sql, "create table after_promote (id int)")) === undefined, 20_000, { everyMs: 50 });
      const [where] = await sql<{ port: number }[]>`select inet_server_port() as port`;
      expect(where?.port).toBe(pair.standbyPort);
    } finally {
      await sql.end({ timeout: 1 });
    }
  }, 60_000);
});

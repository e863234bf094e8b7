/** The primary + standby harness itself: replication, a read-only standby, kill and promote. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { startPrimaryAndStandby, type PgPair } from "./pg-standby.ts";

let pair: PgPair;
beforeAll(async () => { pair = await startPrimaryAndStandby({ synchronous: true }); }, 120_000);
afterAll(async () => { await pair?.stop(); }, 60_000);

const session = (url: string) => postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });

test("a synchronous commit is on the standby, which refuses writes until it is promoted after the primary dies", async () => {
  const primary = session(pair.primaryUrl());
  await primary`create table kept (id int primary key)`;
  await primary`insert into kept values (1), (2)`;
  await primary.end();

  const standby = session(pair.standbyUrl());
  const error = await standby`insert into kept values (3)`.then(() => undefined, (e: unknown) => e);
  expect((error as { code?: string }).code).toBe("25006"); // read_only_sql_transaction

  await pair.killPrimary();
  await pair.promote();
  // Read without waitReplayed: a synchronous commit was flushed on the standby before it was acknowledged.
  expect((await standby`select id from kept order by id`).map((r) => r.id)).toEqual([1, 2]);
  await standby`insert into kept values (3)`;
  expect((await standby`select count(*)::int as n from kept`)[0]?.n).toBe(3);
  await standby.end();
}, 120_000);

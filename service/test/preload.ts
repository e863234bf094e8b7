/**
 * Runs once before every test file in a `bun test` run: starts one real PostgreSQL on a random
 * loopback port (or uses TEST_DATABASE_URL) and prepares a migrated template database, from
 * which each test file copies its own database in milliseconds.
 */
import { afterAll } from "bun:test";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../src/lib/embedded-postgres.ts";
import { connect } from "../src/db/client.ts";
import { TEST_SPOOL_PREFIX } from "../src/config.ts";
import { migrate } from "../src/db/migrate.ts";
import { freePort } from "./ports.ts";
import { TEMPLATE_DB } from "./pg.ts";

let embedded: EmbeddedPostgres | undefined;
let dataDir: string | undefined;

async function adminUrl(): Promise<string> {
  if (process.env.TEST_DATABASE_URL) return process.env.TEST_DATABASE_URL;
  dataDir = await mkdtemp(join(tmpdir(), "linkfort-test-pg-"));
  embedded = await startEmbeddedPostgres({ dir: join(dataDir, "db"), port: await freePort(), ephemeral: true });
  return embedded.adminUrl;
}

async function prepareTemplate(url: string): Promise<void> {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${TEMPLATE_DB} with (force)`);
  await admin.unsafe(`create database ${TEMPLATE_DB}`);
  await admin.end();
  const target = new URL(url);
  target.pathname = `/${TEMPLATE_DB}`;
  const { sql } = connect({ url: target.toString(), poolMax: 2, statementTimeoutMs: 60_000, applicationName: "linkfort-test-template" });
  await migrate(sql);
  await sql.end();
}

try {
  const url = await adminUrl();
  await prepareTemplate(url);
  process.env.LINKFORT_TEST_PG_ADMIN_URL = url;
} catch (err) {
  // Without PostgreSQL no route test can mean anything: fail loudly, never skip.
  console.error("test setup: could not start PostgreSQL:", err);
  process.exit(1);
}

afterAll(async () => {
  // Spool directories of apps built from testConfig() without the harness (which removes its own).
  const mine = `${TEST_SPOOL_PREFIX}${process.pid}-`;
  for (const name of await readdir(tmpdir()).catch(() => [])) {
    if (name.startsWith(mine)) await rm(join(tmpdir(), name), { recursive: true, force: true }).catch(() => {});
  }
  await embedded?.stop().catch(() => {});
  if (dataDir) await rm(dataDir, { recursive: true, force: true }).catch(() => {});
}, 30_000); // a PostgreSQL shutdown checkpoint outlasts the 5 s default on a loaded machine

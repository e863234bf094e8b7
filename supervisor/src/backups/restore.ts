/**
 * @module Restoring a backup. By default into a NEW database, so nothing live is touched until an
 * operator decides to switch DATABASE_URL; into the live database only when asked explicitly, as
 * one transaction (--single-transaction): it either replaces everything or changes nothing.
 */
import { closeSession, databaseName, libpqTarget, openSession, quoteIdent, urlForDatabase } from "./connection.ts";
import { primaryHostUrl } from "./dump-source.ts";
import type { PgTools } from "./pg-tools.ts";
import { restoreOverLive } from "./restore-over-live.ts";
import { describeFailure, runTool } from "./run-tool.ts";
import { checkChecksum } from "./verify.ts";

export type RestoreTarget = { kind: "new"; database: string } | { kind: "live" };

export type RestoreResult =
  | { ok: true; database: string; url: string; sha256: string; durationSeconds: number }
  | { ok: false; stage: "checksum" | "create" | "restore"; error: string };

export interface RestoreInput {
  tools: PgTools;
  file: string;
  /** The live database; a new one is created on the same server with the same credentials. */
  databaseUrl: string;
  target: RestoreTarget;
  signal?: AbortSignal;
}

/** "linkfort_restore_20261122t030000z_3fa1": lower case so it needs no quoting in psql. */
export function scratchDatabaseName(prefix: string, now: Date): string {
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, "z").replaceAll(/[-:]/g, "").toLowerCase();
  return `${prefix}_${stamp}_${crypto.randomUUID().slice(0, 4)}`;
}

export async function restoreBackup(input: RestoreInput): Promise<RestoreResult> {
  const started = performance.now();
  // A flipped bit in the archive may still list and even restore; the checksum says it is not what we wrote.
  const sum = await checkChecksum(input.file);
  if (!sum.ok) return { ok: false, stage: "checksum", error: sum.error };
  const live = input.target.kind === "live";
  const database = input.target.kind === "new" ? input.target.database : null;
  const owner = await serviceRole(input.databaseUrl);
  if (typeof owner !== "object") return { ok: false, stage: "create", error: owner };
  if (database) {
    const created = await createDatabase(input.databaseUrl, database, owner.role);
    if (created !== null) return { ok: false, stage: "create", error: created };
  }
  const url = database ? urlForDatabase(input.databaseUrl, database) : input.databaseUrl;
  const run = await pgRestore(input.tools, input.file, url, live, input.signal, owner.role);
  if (run !== null) {
    if (database) await dropDatabase(input.databaseUrl, database);
    return { ok: false, stage: "restore", error: run };
  }
  return { ok: true, database: database ?? databaseName(url), url, sha256: sum.sha256, durationSeconds: (performance.now() - started) / 1000 };
}

/**
 * The role that owns the live database (the service's), when it is not the one we connect as
 * (a supervisor on its own role, which may create databases while the service's may not); else
 * undefined. A string says why it could not be read.
 */
async function serviceRole(databaseUrl: string): Promise<{ role: string | undefined } | string> {
  const sql = openSession(databaseUrl, "linkfort-restore");
  try {
    const [row] = await sql<{ owner: string; me: string }[]>`
      select pg_get_userbyid(datdba) as owner, current_user as me from pg_database where datname = current_database()`;
    return { role: row && row.owner !== row.me ? row.owner : undefined };
  } catch (err) {
    return `reading the live database's owner: ${(err as Error).message}`;
  } finally {
    await closeSession(sql);
  }
}

/** pg_restore into `url` (as `role` when given); `clean`: over what is there (restore-over-live.ts). null on success, else why. */
export async function pgRestore(tools: PgTools, file: string, url: string, clean: boolean, signal?: AbortSignal, role?: string): Promise<string | null> {
  const primary = await primaryHostUrl(url);
  if (clean) return restoreOverLive(tools, file, primary, signal, role);
  const { dbname, env } = libpqTarget(primary);
  const args = [tools.pgRestore, "--no-password", "--exit-on-error", "--single-transaction",
    // Objects belong to whoever restores, whatever role owned them on the source: restoring onto
    // another server must not need that role to exist. With --role that is the service's role.
    "--no-owner", ...(role ? [`--role=${role}`] : []),
    `--dbname=${dbname}`, file];
  const run = await runTool(args, { env, signal });
  return run.code === 0 ? null : describeFailure("pg_restore", run);
}

/** null when created (owned by `owner` when given), else why not. */
export async function createDatabase(databaseUrl: string, name: string, owner?: string): Promise<string | null> {
  const sql = openSession(databaseUrl, "linkfort-restore");
  try {
    // template0: an empty database, whatever someone added to template1.
    await sql.unsafe(`create database ${quoteIdent(name)}${owner ? ` owner ${quoteIdent(owner)}` : ""} template template0`);
    return null;
  } catch (err) {
    return `create database ${name}: ${(err as Error).message}`;
  } finally {
    await closeSession(sql);
  }
}

/** Best effort: a scratch database left behind is visible (its name says what it is) but harmless. */
export async function dropDatabase(databaseUrl: string, name: string): Promise<string | null> {
  const sql = openSession(databaseUrl, "linkfort-restore");
  try {
    await sql.unsafe(`drop database if exists ${quoteIdent(name)} with (force)`);
    return null;
  } catch (err) {
    return `drop database ${name}: ${(err as Error).message}`;
  } finally {
    await closeSession(sql);
  }
}

/**
 * @module One dump: pg_dump -Fc into a temporary file, fsync, rename to its timestamped name,
 * sha256 sidecar, then `pg_restore --list` and the metadata sidecar that records the verdict.
 *
 * Row counts and pg_dump read the same exported snapshot, so the counts stored beside the dump
 * are exactly what a restore must give back, however busy the database is meanwhile. On a hot
 * standby too (measured on PostgreSQL 15: pg_export_snapshot and pg_dump --snapshot work there),
 * which is why `databaseUrl` must name one server: a snapshot lives on the server that exported it.
 */
import { existsSync } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { backupName, checksumLine, checksumPath, metaPath, timeFromName, type BackupMeta, type BackupSource } from "./backup-files.ts";
import { closeSession, countRows, databaseName, libpqTarget, openSession } from "./connection.ts";
import { createPrivateFile, fsyncDir, fsyncPath, sha256File, writeFileDurably } from "./durable-fs.ts";
import type { PgTools } from "./pg-tools.ts";
import { describeFailure, runTool } from "./run-tool.ts";
import { listArchive } from "./verify.ts";

export interface DumpInput {
  tools: PgTools;
  /** The server to dump: the snapshot session and pg_dump both connect to it. */
  databaseUrl: string;
  /** Which server that is, for the metadata sidecar (a round's dump records it; a safety dump need not). */
  source?: BackupSource;
  dir: string;
  /** Names the file (UTC). */
  now: Date;
  serverVersion: string;
  signal?: AbortSignal;
}

export interface DumpedFile {
  name: string;
  path: string;
  sizeBytes: number;
  sha256: string;
  meta: BackupMeta;
}

export type DumpOutcome =
  | { ok: true; file: DumpedFile }
  | { ok: false; stage: "dump" | "verify"; error: string; path?: string };

export async function dumpDatabase(input: DumpInput): Promise<DumpOutcome> {
  const started = performance.now();
  const temp = join(input.dir, `.${backupName(input.now)}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  await createPrivateFile(temp);
  try {
    const dumped = await dumpInSnapshot(input, temp);
    if (!dumped.ok) return { ok: false, stage: "dump", error: dumped.error };
    await fsyncPath(temp);
    const path = freePath(input.dir, input.now);
    await rename(temp, path);
    await fsyncDir(input.dir);
    return await seal(input, path, dumped.counts, started);
  } finally {
    // Gone after the rename; still here when pg_dump failed or was stopped.
    await rm(temp, { force: true });
  }
}

/** Checksum sidecar, listing, metadata sidecar (which records whether the listing passed). */
async function seal(input: DumpInput, path: string, counts: Record<string, number>, started: number): Promise<DumpOutcome> {
  const name = basename(path);
  const sizeBytes = (await stat(path)).size;
  const sha256 = await sha256File(path);
  await writeFileDurably(checksumPath(path), checksumLine(sha256, name));
  const listed = await listArchive(input.tools, path, Object.keys(counts), input.signal);
  const meta: BackupMeta = {
    format: 1,
    created_at: (timeFromName(name) ?? input.now).toISOString(),
    database: databaseName(input.databaseUrl),
    server_version: input.serverVersion,
    pg_dump_version: input.tools.version,
    size_bytes: sizeBytes,
    sha256,
    duration_seconds: (performance.now() - started) / 1000,
    row_counts: counts,
    verified: listed.ok,
    verified_at: listed.ok ? new Date().toISOString() : null,
    verify_error: listed.ok ? null : listed.error,
    toc_entries: listed.ok ? listed.tocEntries : 0,
    ...(input.source ? { source: input.source } : {}),
  };
  await writeFileDurably(metaPath(path), JSON.stringify(meta, null, 2) + "\n");
  if (!listed.ok) return { ok: false, stage: "verify", error: listed.error, path };
  return { ok: true, file: { name, path, sizeBytes, sha256, meta } };
}

type Dumped = { ok: true; counts: Record<string, number> } | { ok: false; error: string };

/** Counts rows and runs pg_dump inside one exported snapshot, held open until pg_dump is done. */
async function dumpInSnapshot(input: DumpInput, temp: string): Promise<Dumped> {
  const sql = openSession(input.databaseUrl, "linkfort-backup-snapshot");
  try {
    return await sql.begin("isolation level repeatable read read only", async (tx): Promise<Dumped> => {
      // This session sits idle while pg_dump works; a server-wide idle timeout must not end it.
      await tx`set local idle_in_transaction_session_timeout = 0`;
      const [row] = await tx<{ id: string }[]>`select pg_export_snapshot() as id`;
      const counts = await countRows(tx);
      const { dbname, env } = libpqTarget(input.databaseUrl);
      const args = [input.tools.pgDump, "--format=custom", "--no-password", `--snapshot=${row!.id}`, `--file=${temp}`, `--dbname=${dbname}`];
      const run = await runTool(args, { env, signal: input.signal });
      if (run.code !== 0) return { ok: false, error: describeFailure("pg_dump", run) };
      return { ok: true, counts };
    });
  } catch (err) {
    return { ok: false, error: `snapshot session: ${(err as Error).message}` };
  } finally {
    await closeSession(sql);
  }
}

/**
 * The name for `now`, a second later while taken: two dumps within one second (an on-demand one
 * right after a scheduled one) keep distinct names that still sort by time.
 */
function freePath(dir: string, now: Date): string {
  for (let at = now.getTime(); ; at += 1000) {
    const path = join(dir, backupName(new Date(at)));
    if (!existsSync(path) && !existsSync(checksumPath(path)) && !existsSync(metaPath(path))) return path;
  }
}

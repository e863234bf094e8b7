/**
 * @module Is a backup file fit to restore? Two independent checks: the bytes are the ones written
 * (sha256 against the sidecar), and pg_restore can read the archive's table of contents with the
 * data of every table that was counted at dump time.
 */
import { existsSync } from "node:fs";
import { checksumPath, readChecksum, readMeta } from "./backup-files.ts";
import { sha256File } from "./durable-fs.ts";
import type { PgTools } from "./pg-tools.ts";
import { describeFailure, runTool } from "./run-tool.ts";

export type VerifyProblem = "missing" | "no-checksum" | "checksum-mismatch" | "unreadable-archive" | "missing-table-data";
export type Verified = { ok: true; sha256: string; tocEntries: number };
export type VerifyFailure = { ok: false; problem: VerifyProblem; error: string };

export async function checkChecksum(dumpPath: string): Promise<{ ok: true; sha256: string } | VerifyFailure> {
  if (!existsSync(dumpPath)) return { ok: false, problem: "missing", error: `${dumpPath} does not exist` };
  const expected = await readChecksum(dumpPath);
  if (!expected) return { ok: false, problem: "no-checksum", error: `${checksumPath(dumpPath)} is missing or unreadable` };
  const actual = await sha256File(dumpPath);
  if (actual !== expected) {
    return { ok: false, problem: "checksum-mismatch", error: `checksum mismatch: file is sha256 ${actual}, sidecar says ${expected}` };
  }
  return { ok: true, sha256: actual };
}

/** `pg_restore --list`; `tables` ("schema.table") must each have a TABLE DATA entry. */
export async function listArchive(
  tools: PgTools, dumpPath: string, tables: string[], signal?: AbortSignal,
): Promise<{ ok: true; tocEntries: number } | VerifyFailure> {
  const run = await runTool([tools.pgRestore, "--list", dumpPath], { signal });
  if (run.code !== 0) return { ok: false, problem: "unreadable-archive", error: describeFailure("pg_restore --list", run) };
  const entries = run.stdout.split("\n").filter((line) => /^\d+;/.test(line));
  const dataLines = entries.filter((line) => line.includes(" TABLE DATA "));
  // Matched as text, not split on spaces: --list prints names unquoted, and a name may hold a space.
  const hasData = (table: string) => {
    const dot = table.indexOf(".");
    const needle = ` TABLE DATA ${table.slice(0, dot)} ${table.slice(dot + 1)} `;
    return dataLines.some((line) => line.includes(needle));
  };
  const missing = tables.filter((t) => !hasData(t));
  if (missing.length > 0) return { ok: false, problem: "missing-table-data", error: `archive has no data for ${missing.join(", ")}` };
  return { ok: true, tocEntries: entries.length };
}

/** Both checks on a file already written, e.g. `backup verify FILE` or before a restore. */
export async function verifyBackupFile(tools: PgTools, dumpPath: string, signal?: AbortSignal): Promise<Verified | VerifyFailure> {
  const sum = await checkChecksum(dumpPath);
  if (!sum.ok) return sum;
  const meta = await readMeta(dumpPath);
  const listed = await listArchive(tools, dumpPath, meta ? Object.keys(meta.row_counts) : [], signal);
  if (!listed.ok) return listed;
  return { ok: true, sha256: sum.sha256, tocEntries: listed.tocEntries };
}

/**
 * @module Finds the pg_dump and pg_restore whose major version matches the server's.
 * pg_dump refuses a newer server, and an older server may not read what a newer pg_dump
 * writes, so "whatever is on PATH" is only taken when its version matches.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { runTool } from "./run-tool.ts";

export interface PgTools {
  pgDump: string;
  pgRestore: string;
  /** e.g. "15.18 (Debian 15.18-0+deb12u1)" */
  version: string;
  major: number;
}

export type ToolsResult = { ok: true; tools: PgTools } | { ok: false; error: string };

/** Where to look, in order: PG_BIN_DIR alone when set (the operator chose), else Debian's folder, else PATH. */
export function candidateDirs(major: number, pgBinDir: string | undefined): { dir: string; label: string }[] {
  if (pgBinDir) return [{ dir: pgBinDir, label: "PG_BIN_DIR" }];
  const dirs = [{ dir: `/usr/lib/postgresql/${major}/bin`, label: "Debian's folder" }];
  const onPath = Bun.which("pg_dump");
  if (onPath) dirs.push({ dir: dirname(onPath), label: "PATH" });
  return dirs;
}

/** "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" → { major: 15, version: "15.18 (…)" } */
export function parseToolVersion(output: string): { major: number; version: string } | null {
  const match = /\(PostgreSQL\)\s+((\d+)(?:\.\d+)*.*)$/m.exec(output.trim());
  return match ? { major: Number(match[2]), version: match[1]!.trim() } : null;
}

async function probe(path: string): Promise<{ major: number; version: string } | string> {
  if (!existsSync(path)) return "missing";
  const run = await runTool([path, "--version"]);
  if (run.code !== 0) return `does not run (exit ${run.code})`;
  return parseToolVersion(run.stdout) ?? `unrecognised version "${run.stdout.trim()}"`;
}

/**
 * The tools for a server of `major`; the failure names every place looked at and what was there,
 * so the operator knows which package to install or which PG_BIN_DIR to set.
 */
export async function findPgTools(major: number, pgBinDir: string | undefined): Promise<ToolsResult> {
  const seen: string[] = [];
  for (const { dir, label } of candidateDirs(major, pgBinDir)) {
    const dump = await probe(join(dir, "pg_dump"));
    const restore = await probe(join(dir, "pg_restore"));
    if (typeof dump === "object" && typeof restore === "object" && dump.major === major && restore.major === major) {
      return { ok: true, tools: { pgDump: join(dir, "pg_dump"), pgRestore: join(dir, "pg_restore"), version: dump.version, major } };
    }
    const show = (name: string, r: typeof dump) => `${name} ${typeof r === "object" ? r.version : r}`;
    seen.push(`${label} ${dir}: ${show("pg_dump", dump)}, ${show("pg_restore", restore)}`);
  }
  const hint = pgBinDir ? "point PG_BIN_DIR at version " + major + "'s bin folder" : `install postgresql-client-${major} or set PG_BIN_DIR`;
  return { ok: false, error: `no pg_dump/pg_restore for PostgreSQL ${major} (the server's major version); found ${seen.join("; ") || "nothing"}; ${hint}` };
}

/**
 * `linkfort spool status [DIR]`: what a spool holds, read from its files, for the 3 AM case when
 * the instance will not start. DIR is a spool root (one directory per instance) or one
 * instance's spool; default CLICK_SPOOL_DIR (DATA_DIR/spool). With PostgreSQL reachable it also
 * prints the committed position and so the clicks not yet shipped; without, the files only.
 */
import { basename } from "node:path";
import type { Sql } from "../db/client.ts";
import { listSegments, readSpoolId, siblingSpools, aliveAgeMs } from "./spool-dir.ts";
import { countLines, countSegmentLines, type Position } from "./spool-reader.ts";

export interface SpoolReport {
  dir: string;
  id: string;
  segments: { name: string; bytes: number; clicks: number }[];
  /** undefined: PostgreSQL not asked or not reachable; null: never shipped. */
  committed?: Position | null;
  unshipped?: number;
  aliveAgeMs: number;
}

const spoolDirs = (dir: string) => (readSpoolId(dir) ? [{ dir, id: readSpoolId(dir)! }] : siblingSpools(dir, ""));

export async function readSpoolReports(dir: string, position?: (id: string) => Promise<Position | undefined>): Promise<SpoolReport[]> {
  const reports: SpoolReport[] = [];
  for (const spool of spoolDirs(dir)) {
    const segments = [];
    for (const s of listSegments(spool.dir)) {
      segments.push({ name: basename(s.path), bytes: s.bytes, clicks: await countSegmentLines(s, 0) });
    }
    const report: SpoolReport = { ...spool, segments, aliveAgeMs: aliveAgeMs(spool.dir) };
    if (position) {
      const at = await position(spool.id);
      report.committed = at ?? null;
      report.unshipped = await countLines(spool.dir, at ?? { segment: 0, offset: 0 });
    }
    reports.push(report);
  }
  return reports;
}

export function formatSpoolReports(reports: SpoolReport[], db: string): string {
  if (reports.length === 0) return "no click spool here";
  const lines: string[] = [];
  for (const r of reports) {
    const bytes = r.segments.reduce((n, s) => n + s.bytes, 0);
    const clicks = r.segments.reduce((n, s) => n + s.clicks, 0);
    const alive = Number.isFinite(r.aliveAgeMs) ? `${Math.round(r.aliveAgeMs / 1000)} s ago` : "never";
    lines.push(`spool ${r.dir}  id ${r.id}  instance last alive ${alive}`);
    for (const s of r.segments) lines.push(`  ${s.name}  ${String(s.bytes).padStart(12)} bytes  ${String(s.clicks).padStart(9)} clicks`);
    lines.push(`  files: ${r.segments.length} segments, ${bytes} bytes, ${clicks} clicks (shipped or not)`);
    if (r.committed === undefined) lines.push(`  shipped: unknown (${db}); every click in the files may still be unshipped`);
    else if (r.committed === null) lines.push(`  shipped: nothing yet; ${r.unshipped} clicks to ship`);
    else lines.push(`  shipped up to segment ${r.committed.segment} byte ${r.committed.offset}; ${r.unshipped} clicks not yet shipped`);
  }
  return lines.join("\n");
}

/** The committed position, read without migrating or writing anything. */
export const positionReader = (sql: Sql) => async (id: string): Promise<Position | undefined> => {
  const [row] = await sql<{ segment: string; byte_offset: string }[]>`select segment::text, byte_offset::text from spool_offsets where spool_id = ${id}`;
  return row ? { segment: Number(row.segment), offset: Number(row.byte_offset) } : undefined;
};

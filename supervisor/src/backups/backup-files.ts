/**
 * @module What lives in BACKUP_DIR and how it is named.
 *
 *   linkfort-20261122T030000Z.dump         pg_dump -Fc archive (UTC time in the name: sorts by age)
 *   linkfort-20261122T030000Z.dump.sha256  "<hex>  <name>": `sha256sum -c` checks it from the folder
 *   linkfort-20261122T030000Z.dump.json    what we know about it: row counts at dump time, verification
 *   .linkfort-….tmp                         a dump or sidecar still being written (or left by a crash)
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";

/** The server a dump was read from (dump-source.ts); absent in sidecars written before clusters. */
export interface BackupSource {
  /** "host:port" */
  server: string;
  role: "primary" | "standby";
  /** Why that server: the standby's catch-up, or why no standby was healthy. */
  reason: string;
}

export interface BackupMeta {
  format: 1;
  created_at: string;
  database: string;
  server_version: string;
  pg_dump_version: string;
  size_bytes: number;
  sha256: string;
  duration_seconds: number;
  /** Exact rows per "schema.table" in the snapshot pg_dump saw; what a restore must give back. */
  row_counts: Record<string, number>;
  /** `pg_restore --list` read the archive and every counted table has its data in it. */
  verified: boolean;
  verified_at: string | null;
  verify_error: string | null;
  toc_entries: number;
  source?: BackupSource;
}

export interface BackupEntry {
  name: string;
  path: string;
  /** From the name; the file's mtime when the name carries no time (a file someone copied in). */
  createdAt: Date;
  sizeBytes: number;
  hasChecksum: boolean;
  meta: BackupMeta | null;
  /** Verified and with its checksum: fit to restore and to be kept by retention. */
  good: boolean;
}

export interface StrayFile {
  name: string;
  path: string;
  mtime: Date;
}

export interface BackupDirScan {
  /** Newest first. */
  backups: BackupEntry[];
  /** Unfinished temporary files. */
  temps: StrayFile[];
  /** Sidecars whose dump is gone. */
  orphans: StrayFile[];
}

const NAME = /^linkfort-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z\.dump$/;

export function backupName(at: Date): string {
  const stamp = at.toISOString().replace(/\.\d{3}Z$/, "Z").replaceAll("-", "").replaceAll(":", "");
  return `linkfort-${stamp}.dump`;
}

export function timeFromName(name: string): Date | null {
  const m = NAME.exec(name);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return Number.isNaN(date.getTime()) ? null : date;
}

export const checksumPath = (dumpPath: string) => `${dumpPath}.sha256`;
export const metaPath = (dumpPath: string) => `${dumpPath}.json`;
/** sha256sum's own format, so operators can check a copy with standard tools. */
export const checksumLine = (hex: string, name: string) => `${hex}  ${name}\n`;

/** The hex digest a sidecar names, or null when it is missing or unreadable. */
export async function readChecksum(dumpPath: string): Promise<string | null> {
  const text = await readFile(checksumPath(dumpPath), "utf8").catch(() => null);
  const match = text ? /^([0-9a-f]{64})\s/i.exec(text) : null;
  return match ? match[1]!.toLowerCase() : null;
}

export async function readMeta(dumpPath: string): Promise<BackupMeta | null> {
  try {
    const meta = JSON.parse(await readFile(metaPath(dumpPath), "utf8")) as Partial<BackupMeta>;
    if (meta.format !== 1 || typeof meta.verified !== "boolean" || typeof meta.row_counts !== "object" || meta.row_counts === null) return null;
    return meta as BackupMeta;
  } catch {
    return null;
  }
}

const isDump = (name: string) => name.startsWith("linkfort-") && name.endsWith(".dump");
const isTemp = (name: string) => name.startsWith(".linkfort-") && name.endsWith(".tmp");
const sidecarOf = (name: string) => (/^(linkfort-.*\.dump)\.(sha256|json)$/.exec(name)?.[1]) ?? null;

export async function scanBackupDir(dir: string): Promise<BackupDirScan> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw err;
  });
  const present = new Set(names);
  const scan: BackupDirScan = { backups: [], temps: [], orphans: [] };
  for (const name of names) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => null);
    if (!info?.isFile()) continue;
    if (isDump(name)) scan.backups.push(await describe(path, name, info.size, info.mtime, present));
    else if (isTemp(name)) scan.temps.push({ name, path, mtime: info.mtime });
    else {
      const dump = sidecarOf(name);
      if (dump && !present.has(dump)) scan.orphans.push({ name, path, mtime: info.mtime });
    }
  }
  scan.backups.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.name.localeCompare(a.name));
  return scan;
}

async function describe(path: string, name: string, size: number, mtime: Date, present: Set<string>): Promise<BackupEntry> {
  const hasChecksum = present.has(`${name}.sha256`);
  const meta = present.has(`${name}.json`) ? await readMeta(path) : null;
  return {
    name, path, createdAt: timeFromName(name) ?? mtime, sizeBytes: size, hasChecksum, meta,
    good: hasChecksum && meta?.verified === true && meta.size_bytes === size,
  };
}

/** The newest backup fit to restore, if any. */
export const newestGood = (scan: BackupDirScan) => scan.backups.find((b) => b.good) ?? null;

/**
 * A spool directory on disk: `<CLICK_SPOOL_DIR>/<port>/` holds the file `spool-id` (a random id,
 * made once, naming the spool in PostgreSQL's spool_offsets wherever the directory is found),
 * the `alive` file its instance touches while it runs, and the segments (spool-format.ts).
 * Sync calls on purpose: they run at start, per rotation or per shipping round, on local disk.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { segmentNumber } from "./spool-format.ts";

const ID_FILE = "spool-id";
const ALIVE_FILE = "alive";

export interface Segment {
  n: number;
  path: string;
  bytes: number;
}

/** The directory of one instance's spool under the spool root. */
export const instanceSpoolDir = (root: string, port: number) => join(root, String(port));

/** The spool's id, made (and made durable) the first time the directory is used. */
export function ensureSpoolId(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const existing = readSpoolId(dir);
  if (existing) return existing;
  const id = crypto.randomUUID();
  const tmp = join(dir, `${ID_FILE}.tmp`);
  writeFileSync(tmp, `${id}\n`, { mode: 0o600 });
  const fd = openSync(tmp, "r");
  try { fsyncSync(fd); } finally { closeSync(fd); }
  renameSync(tmp, join(dir, ID_FILE));
  syncDir(dir);
  return id;
}

/** The spool's id, or undefined when the directory holds none (not a spool). */
export function readSpoolId(dir: string): string | undefined {
  try {
    const id = readFileSync(join(dir, ID_FILE), "utf8").trim();
    return id === "" ? undefined : id;
  } catch {
    return undefined;
  }
}

/** The segments present, oldest first. */
export function listSegments(dir: string): Segment[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const segments: Segment[] = [];
  for (const name of names) {
    const n = segmentNumber(name);
    if (n === undefined) continue;
    const path = join(dir, name);
    try {
      segments.push({ n, path, bytes: statSync(path).size });
    } catch { /* deleted meanwhile by a shipper */ }
  }
  return segments.sort((a, b) => a.n - b.n);
}

/** Marks the spool's instance as running; adopters leave a spool alone while this is recent. */
export function touchAlive(dir: string): void {
  const path = join(dir, ALIVE_FILE);
  const now = new Date();
  try {
    utimesSync(path, now, now);
  } catch {
    writeFileSync(path, `${process.pid}\n`);
  }
}

/** Milliseconds since the spool's instance last said it runs; Infinity if it never did. */
export function aliveAgeMs(dir: string, now = Date.now()): number {
  try {
    return now - statSync(join(dir, ALIVE_FILE)).mtimeMs;
  } catch {
    return Infinity;
  }
}

/** Makes a new or renamed entry of the directory durable (its own fsync). */
export function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try { fsyncSync(fd); } catch { /* some filesystems refuse fsync on a directory; nothing to do */ } finally { closeSync(fd); }
}

/** Spool directories (with a spool id) under the root, other than `except`. */
export function siblingSpools(root: string, except: string): { dir: string; id: string }[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names
    .map((name) => join(root, name))
    .filter((dir) => dir !== except)
    .flatMap((dir) => { const id = readSpoolId(dir); return id ? [{ dir, id }] : []; });
}

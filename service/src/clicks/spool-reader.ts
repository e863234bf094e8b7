/**
 * Reads a spool from a position, a bounded chunk at a time, so a backlog of any size costs the
 * same memory. A batch never spans two segments. A segment is known to be final when a later
 * one exists (listed before reading it): only then does a reader move past its end, and a last
 * line without "\n" (a crash mid-write) is left behind, never shipped.
 */
import { open } from "node:fs/promises";
import type { Click } from "./model.ts";
import { listSegments, type Segment } from "./spool-dir.ts";
import { decodeClick, parseHeader } from "./spool-format.ts";

/** Everything before byte `offset` of segment `segment` (and every earlier segment) is consumed. */
export interface Position { segment: number; offset: number }

export interface ReadResult {
  clicks: Click[];
  /** Complete lines that are not click records; consumed and counted, never shipped. */
  unreadable: number;
  /** Where the next read starts once this batch is shipped. */
  next: Position;
  /** Nothing more to read now. */
  caughtUp: boolean;
  /** A segment this code cannot read (another format version); reading stops before it. */
  problem?: string;
}

const NEWLINE = 0x0a;
export const CHUNK_BYTES = 1 << 20;

interface Lines { lines: string[]; end: number; problem?: string; more: boolean }

/** Up to `max` complete lines from `offset`, skipping (and checking) the header at offset 0. */
async function readLines(path: string, offset: number, max: number, chunkBytes: number): Promise<Lines> {
  const file = await open(path, "r");
  try {
    const buf = Buffer.allocUnsafe(chunkBytes);
    const { bytesRead } = await file.read(buf, 0, chunkBytes, offset);
    let start = 0;
    if (offset === 0) {
      const nl = buf.indexOf(NEWLINE, 0);
      if (nl < 0 || nl >= bytesRead) return { lines: [], end: 0, more: false };
      const header = parseHeader(buf.toString("utf8", 0, nl));
      if (typeof header === "string") return { lines: [], end: 0, problem: `${path}: ${header}`, more: false };
      start = nl + 1;
    }
    const lines: string[] = [];
    for (;;) {
      const nl = buf.indexOf(NEWLINE, start);
      if (nl < 0 || nl >= bytesRead || lines.length >= max) break;
      lines.push(buf.toString("utf8", start, nl));
      start = nl + 1;
    }
    return { lines, end: offset + start, more: lines.length >= max || bytesRead === chunkBytes };
  } finally {
    await file.close();
  }
}

/** The next batch of at most `max` lines after `from`. */
export async function readBatch(dir: string, from: Position, max: number, chunkBytes = CHUNK_BYTES): Promise<ReadResult> {
  let pos = from;
  for (;;) {
    const segments = listSegments(dir);
    const seg = segments.find((s) => s.n >= pos.segment);
    if (!seg) return { clicks: [], unreadable: 0, next: pos, caughtUp: true };
    if (seg.n !== pos.segment) pos = { segment: seg.n, offset: 0 };
    const final = segments.some((s) => s.n > seg.n);
    let read: Lines;
    try {
      read = await readLines(seg.path, pos.offset, max, chunkBytes);
    } catch (error) {
      // Deleted meanwhile by another shipper, which committed past it: list again.
      if ((error as { code?: unknown }).code === "ENOENT") continue;
      throw error;
    }
    if (read.problem) return { clicks: [], unreadable: 0, next: pos, caughtUp: true, problem: read.problem };
    if (read.lines.length > 0) {
      const clicks: Click[] = [];
      for (const line of read.lines) {
        const click = decodeClick(line);
        if (click) clicks.push(click);
      }
      const next = { segment: seg.n, offset: read.end };
      return { clicks, unreadable: read.lines.length - clicks.length, next, caughtUp: !read.more && !final };
    }
    if (!final) return { clicks: [], unreadable: 0, next: { segment: seg.n, offset: read.end }, caughtUp: true };
    pos = { segment: seg.n + 1, offset: 0 };
  }
}

/** When the oldest click not yet shipped was answered; undefined when there is none. */
export async function oldestUnshipped(dir: string, from: Position): Promise<Date | undefined> {
  let pos = from;
  for (let i = 0; i < 1_000; i++) {
    const read = await readBatch(dir, pos, 16, 64 * 1024);
    if (read.clicks.length > 0) return read.clicks[0]!.at;
    if (read.caughtUp) return undefined;
    pos = read.next;
  }
  return undefined;
}

/** Complete click lines of one segment after `offset`, read only up to the size it was listed with. */
export async function countSegmentLines(seg: Segment, offset: number, buf = Buffer.allocUnsafe(CHUNK_BYTES)): Promise<number> {
  let lines = offset === 0 ? -1 : 0; // the header line
  let file;
  try { file = await open(seg.path, "r"); } catch { return 0; }
  try {
    for (let at = offset; at < seg.bytes;) {
      const { bytesRead } = await file.read(buf, 0, Math.min(buf.length, seg.bytes - at), at);
      if (bytesRead === 0) break;
      for (let i = buf.indexOf(NEWLINE, 0); i >= 0 && i < bytesRead; i = buf.indexOf(NEWLINE, i + 1)) lines++;
      at += bytesRead;
    }
  } finally {
    await file.close();
  }
  return Math.max(0, lines);
}

/**
 * Complete lines after `from` in the segments listed now, each read only up to its size at the
 * listing, so a caller that notes its writer's count in the same turn knows which lines it saw.
 */
export async function countLines(dir: string, from: Position): Promise<number> {
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let count = 0;
  for (const seg of listSegments(dir)) {
    if (seg.n >= from.segment) count += await countSegmentLines(seg, seg.n === from.segment ? from.offset : 0, buf);
  }
  return count;
}

/**
 * The click spool's file format, version 1. A spool is one directory per instance holding
 * append-only segment files named by a 16-digit sequence number (`0000000000000007.seg`). A
 * segment is UTF-8 text, one record per line ending in "\n":
 *
 *   line 1   the header: {"format":"linkfort-click-spool","version":1,"spool":ID,"segment":N,
 *            "created_at":ISO,"pid":PID}
 *   then     one click per line, a JSON array:
 *            [click id, url id, short code, answered at (ms since epoch), referrer|null,
 *             user agent|null, client ip|null]
 *
 * A line without its "\n" is a write cut short by a crash; readers never ship it. A reader that
 * meets a header with another format or version stops there rather than guess.
 * docs/RUNBOOK.md ("Click spool") describes the same for operators.
 */
import type { Click } from "./model.ts";

export const SPOOL_FORMAT = "linkfort-click-spool";
export const SPOOL_VERSION = 1;
export const SEGMENT_SUFFIX = ".seg";
const DIGITS = 16;

export interface SegmentHeader {
  format: typeof SPOOL_FORMAT;
  version: number;
  spool: string;
  segment: number;
  created_at: string;
  pid: number;
}

export const segmentName = (n: number) => `${String(n).padStart(DIGITS, "0")}${SEGMENT_SUFFIX}`;

/** The sequence number of a segment file name, or undefined for any other file. */
export function segmentNumber(name: string): number | undefined {
  if (name.length !== DIGITS + SEGMENT_SUFFIX.length || !name.endsWith(SEGMENT_SUFFIX)) return undefined;
  const n = Number(name.slice(0, DIGITS));
  return Number.isSafeInteger(n) ? n : undefined;
}

export const encodeHeader = (spool: string, segment: number) =>
  `${JSON.stringify({ format: SPOOL_FORMAT, version: SPOOL_VERSION, spool, segment, created_at: new Date().toISOString(), pid: process.pid })}\n`;

/** The header if the line is one this code can read; a string saying why not otherwise. */
export function parseHeader(line: string): SegmentHeader | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return "the first line is not JSON";
  }
  const h = value as Partial<SegmentHeader> | null;
  if (h?.format !== SPOOL_FORMAT) return "not a linkfort click spool segment";
  if (h.version !== SPOOL_VERSION) return `format version ${String(h.version)}; this linkfort reads version ${SPOOL_VERSION}`;
  return h as SegmentHeader;
}

export const encodeClick = (c: Click) =>
  `${JSON.stringify([c.id, c.urlId, c.shortCode, c.at.getTime(), c.referrer ?? null, c.userAgent ?? null, c.clientIp ?? null])}\n`;

const optional = (v: unknown) => (typeof v === "string" ? v : undefined);

/** The click of one line (without its "\n"), or undefined when the line is not a click record. */
export function decodeClick(line: string): Click | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length !== 7) return undefined;
  const [id, urlId, shortCode, at] = v as unknown[];
  if (typeof id !== "string" || !Number.isSafeInteger(urlId) || typeof shortCode !== "string" || typeof at !== "number") return undefined;
  return { id, urlId: urlId as number, shortCode, at: new Date(at), referrer: optional(v[4]), userAgent: optional(v[5]), clientIp: optional(v[6]) };
}

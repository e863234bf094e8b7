/**
 * What a CSV header means: which columns an upload of users has, and which table an operator's
 * seed file belongs to. Names are trimmed and compared case-insensitively (docs/API.md, CSV import).
 */
import type { CsvRecord } from "./csv-reader.ts";
import type { Checked, Field } from "./rows.ts";

/** The seed files' columns (the hackathon's seed data); a file belongs to the table whose set it matches. */
export const TABLE_COLUMNS = {
  users: ["id", "username", "email", "created_at"],
  urls: ["id", "user_id", "short_code", "original_url", "title", "is_active", "created_at", "updated_at"],
  events: ["id", "url_id", "user_id", "event_type", "timestamp", "details"],
} as const;

export type TableName = keyof typeof TABLE_COLUMNS;
/** Load order: each table's rows refer to the ones before it. */
export const TABLE_ORDER: readonly TableName[] = ["users", "urls", "events"];

export type Header = { ok: true; index: Map<string, number>; width: number } | { ok: false; reason: string };

/** Column name → position; a repeated name is an error because either copy could be meant. */
export function readHeader(fields: string[]): Header {
  const index = new Map<string, number>();
  for (const [i, raw] of fields.entries()) {
    const name = raw.trim().toLowerCase();
    if (name === "") continue;
    if (index.has(name)) return { ok: false, reason: `the header names column "${name}" twice` };
    index.set(name, i);
  }
  return { ok: true, index, width: fields.length };
}

/** The columns a user upload must have; the others (`id` too) are ignored. */
export function requireColumns(header: Header, names: readonly string[]): Header {
  if (!header.ok) return header;
  const missing = names.filter((n) => !header.index.has(n));
  return missing.length === 0 ? header : { ok: false, reason: `the header lacks ${missing.join(" and ")}` };
}

/** The seed table whose columns the header has, exactly, in any order. */
export function detectTable(header: Header): TableName | undefined {
  if (!header.ok) return undefined;
  return TABLE_ORDER.find((table) => {
    const columns = TABLE_COLUMNS[table];
    return header.index.size === columns.length && columns.every((c) => header.index.has(c));
  });
}

/** Why a record cannot be read against the header at all, before its values are looked at. */
export function shapeProblem(fields: string[], width: number): string | undefined {
  if (fields.length < width) return `has ${fields.length} fields but the header has ${width} (short row)`;
  if (fields.length > width) return `has ${fields.length} fields but the header has ${width} (long row)`;
  return undefined;
}

/** One record through the reader's verdict, the header's shape and then the table's rules. */
export function checkRecord<T>(record: CsvRecord, header: Header & { ok: true }, rules: (get: Field) => Checked<T>): Checked<T> {
  const problem = record.problem ?? shapeProblem(record.fields, header.width);
  if (problem) return { ok: false, reason: problem };
  return rules((name) => {
    const at = header.index.get(name);
    return at === undefined ? "" : record.fields[at] ?? "";
  });
}

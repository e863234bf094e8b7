/**
 * Streams CSV records out of bytes, for both the HTTP upload and the CLI. papaparse's own
 * `Parser` does the RFC 4180 work; around it this module does what papaparse's streamers do
 * (parse what has arrived, keep the unfinished last record for the next chunk) plus what they do
 * not: UTF-8 decoding that survives chunk boundaries and bad bytes (utf8.ts), the line on which
 * each record starts, and a reason for records that cannot be used whatever their values.
 */
import Papa from "papaparse";
import { createUtf8StreamDecoder } from "./utf8.ts";

export interface CsvRecord {
  /** 1-based line of the file on which the record starts (the header is line 1). */
  line: number;
  fields: string[];
  /** Set when the record is unusable as read: broken quoting, invalid UTF-8, a NUL character. */
  problem?: string;
}

/** One record may span lines (quoted newlines) but not more than this, so a stray quote cannot buffer a whole file. */
export const MAX_RECORD_CHARS = 1024 * 1024;

interface PapaResult {
  data: string[][];
  errors: { row?: number; message: string }[];
  meta: { cursor: number };
}

/**
 * Yields the records of each chunk as an array (the header is the first record). Blank lines are
 * not records; they only count for line numbers. A record longer than MAX_RECORD_CHARS ends the
 * stream with one record whose `problem` says so.
 */
export async function* readCsvRecords(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<CsvRecord[]> {
  const decoder = createUtf8StreamDecoder();
  let pending = "";
  let sawNul = false;
  let line = 1;

  const take = (text: string, final: boolean): CsvRecord[] => {
    if (!sawNul && text.includes("\u0000")) sawNul = true;
    // newline "\n" for LF and CRLF alike; records() drops the CR that CRLF leaves on the last field.
    const parser = new Papa.Parser({ delimiter: ",", newline: "\n", quoteChar: '"' });
    const result = parser.parse(text, 0, !final) as PapaResult;
    pending = final ? "" : text.slice(result.meta.cursor);
    const out = records(result, line, decoder.sawInvalid, sawNul);
    line = out.nextLine;
    return out.records;
  };

  for await (const chunk of chunks) {
    const got = take(pending + decoder.decode(chunk, false), false);
    if (pending.length > MAX_RECORD_CHARS) {
      yield [...got, { line, fields: [], problem: `a record is longer than ${MAX_RECORD_CHARS} characters (an unclosed quote?); reading stopped here` }];
      return;
    }
    if (got.length > 0) yield got;
  }
  const last = take(pending + decoder.decode(new Uint8Array(0), true), true);
  if (last.length > 0) yield last;
}

function records(result: PapaResult, firstLine: number, checkUtf8: boolean, checkNul: boolean): { records: CsvRecord[]; nextLine: number } {
  const broken = new Map<number, string>();
  for (const e of result.errors) if (e.row !== undefined && !broken.has(e.row)) broken.set(e.row, e.message);
  const out: CsvRecord[] = [];
  let line = firstLine;
  result.data.forEach((fields, i) => {
    const start = line;
    line += 1 + countNewlines(fields);
    const lastIndex = fields.length - 1;
    const last = fields[lastIndex]!;
    if (last.endsWith("\r")) fields[lastIndex] = last.slice(0, -1);
    if (fields.length === 1 && fields[0] === "") return;
    const problem = broken.has(i) ? `malformed quoting: ${broken.get(i)}`
      : checkUtf8 && fields.some((f) => !f.isWellFormed()) ? "contains bytes that are not valid UTF-8"
      : checkNul && fields.some((f) => f.includes("\u0000")) ? "contains a NUL character, which the database cannot store"
      : undefined;
    out.push(problem ? { line: start, fields, problem } : { line: start, fields });
  });
  return { records: out, nextLine: line };
}

/** Quoted fields keep their line breaks verbatim, so they tell how many lines a record spans. */
function countNewlines(fields: string[]): number {
  let n = 0;
  for (const f of fields) {
    for (let at = f.indexOf("\n"); at !== -1; at = f.indexOf("\n", at + 1)) n++;
  }
  return n;
}

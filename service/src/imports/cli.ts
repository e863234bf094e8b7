/**
 * `linkfort import FILE.csv …`: the operator's loader for the seed files (users, urls, events;
 * columns in columns.ts).
 * Each file's table comes from its header, so files may be named and ordered anyhow; they load
 * users → urls → events, keep their ids, and each table's id sequence is moved past the largest
 * id afterwards. Every skipped row is printed as `FILE:LINE: skipped: reason`.
 *
 * Exit code: 0 every row imported; 1 some rows were skipped, or the import stopped part-way
 * (the rows before that stay); 2 a file could not be used, and nothing was imported.
 */
import type { Db, Sql } from "../db/client.ts";
import type { Logger } from "../lib/logger.ts";
import { detectTable, readHeader, TABLE_COLUMNS, TABLE_ORDER, type TableName } from "./columns.ts";
import { readCsvRecords } from "./csv-reader.ts";
import { loadFile } from "./load-file.ts";
import { createImportsRepo, type ImportsRepo } from "./repo.ts";
import type { Checked } from "./rows.ts";

export interface ImportIo {
  sql: Sql;
  db: Db;
  logger: Logger;
  /** Receives each line of the report (skipped rows, one summary per file). */
  out: (line: string) => void;
}

interface PlannedFile { path: string; table: TableName }

export async function runImportCommand(paths: string[], io: ImportIo): Promise<number> {
  const planned = await plan(paths, io.out);
  if (!planned) return 2;
  const repo = createImportsRepo(io.sql);
  let skipped = 0;
  try {
    for (const table of TABLE_ORDER) {
      const files = planned.filter((f) => f.table === table);
      for (const file of files) skipped += await importOne(file, repo, io.out);
      if (files.length > 0) await repo.resetSequence(table);
    }
  } catch (error) {
    io.logger.error("import stopped", { error });
    io.out(`import stopped: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  return skipped > 0 ? 1 : 0;
}

async function importOne(file: PlannedFile, repo: ImportsRepo, out: (line: string) => void): Promise<number> {
  const started = performance.now();
  const result = await loadFile(Bun.file(file.path).stream(), file.table, repo, (line, reason) => out(`${file.path}:${line}: skipped: ${reason}`));
  const seconds = (performance.now() - started) / 1000;
  const rate = Math.round((result.imported + result.skipped) / Math.max(seconds, 0.001));
  out(`${file.path}: ${file.table}: imported ${result.imported}, skipped ${result.skipped} in ${seconds.toFixed(2)} s (${rate} rows/s)`);
  return result.skipped;
}

/** Every file's table, in load order; undefined (after saying why) when any file is unusable. */
async function plan(paths: string[], out: (line: string) => void): Promise<PlannedFile[] | undefined> {
  if (paths.length === 0) {
    out("no files given: linkfort import users.csv urls.csv events.csv");
    return undefined;
  }
  const planned: PlannedFile[] = [];
  let usable = true;
  for (const path of paths) {
    const table = await tableOf(path);
    if (table.ok) planned.push({ path, table: table.value });
    else {
      out(`${path}: ${table.reason}`);
      usable = false;
    }
  }
  if (!usable) {
    out("nothing was imported");
    return undefined;
  }
  return TABLE_ORDER.flatMap((table) => planned.filter((f) => f.table === table));
}

/** Reads only the first record of the file. */
async function tableOf(path: string): Promise<Checked<TableName>> {
  const fail = (reason: string) => ({ ok: false as const, reason });
  try {
    const file = Bun.file(path);
    if (!(await file.exists())) return fail("no such file");
    if (file.size === 0) return fail("the file is empty");
    const records = readCsvRecords(file.stream());
    const first = await records.next();
    await records.return(undefined); // stops reading the rest of the file
    const fields = first.done ? undefined : first.value[0]?.fields;
    if (!fields) return fail("the file has no header row");
    const header = readHeader(fields);
    if (!header.ok) return fail(header.reason);
    const table = detectTable(header);
    if (table) return { ok: true, value: table };
    const expected = TABLE_ORDER.map((t) => `${t} (${TABLE_COLUMNS[t].join(",")})`).join(", ");
    return fail(`the header "${fields.join(",")}" is not one of ${expected}`);
  } catch (err) {
    return fail(`cannot read it: ${err instanceof Error ? err.message : String(err)}`);
  }
}

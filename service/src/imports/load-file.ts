/**
 * Loads one seed CSV file into its table, keeping the file's ids: streamed (never the whole file
 * in memory), validated row by row, inserted in large batches while the next batch is parsed.
 */
import { checkRecord, readHeader, type Header, type TableName } from "./columns.ts";
import { readCsvRecords } from "./csv-reader.ts";
import { insertRowByRowOnError, type ImportsRepo, type SeedRow } from "./repo.ts";
import { seedEvent, seedUrl, seedUser, type Checked, type Field, type SeedEvent, type SeedUrl } from "./rows.ts";

/** Rows per INSERT: a statement of a fraction of a second. */
export const SEED_BATCH_ROWS = 5000;

const RULES: Record<TableName, (get: Field) => Checked<SeedRow>> = { users: seedUser, urls: seedUrl, events: seedEvent };

export type SkipReporter = (line: number, reason: string) => void;
interface Candidate { line: number; row: SeedRow }

export async function loadFile(
  source: AsyncIterable<Uint8Array>,
  table: TableName,
  repo: ImportsRepo,
  skip: SkipReporter,
): Promise<{ imported: number; skipped: number }> {
  let header: (Header & { ok: true }) | undefined;
  let batch: Candidate[] = [];
  let inflight: Promise<number> | undefined;
  let imported = 0;
  let skipped = 0;
  const countingSkip: SkipReporter = (line, reason) => { skipped++; skip(line, reason); };

  // One batch is written while the next is parsed: the two halves of the work overlap.
  const flush = async () => {
    const previous = inflight;
    inflight = batch.length > 0 ? insertBatch(table, batch, repo, countingSkip) : undefined;
    inflight?.catch(() => {}); // awaited below or at the next flush; this only marks it as handled
    batch = [];
    if (previous) imported += await previous;
  };

  for await (const records of readCsvRecords(source)) {
    for (const record of records) {
      if (!header) {
        const read = readHeader(record.fields);
        if (!read.ok) throw new Error(read.reason);
        header = read;
        continue;
      }
      const checked = checkRecord(record, header, RULES[table]);
      if (checked.ok) batch.push({ line: record.line, row: checked.value });
      else countingSkip(record.line, checked.reason);
      if (batch.length >= SEED_BATCH_ROWS) await flush();
    }
  }
  await flush();
  if (inflight) imported += await inflight;
  return { imported, skipped };
}

async function insertBatch(table: TableName, candidates: Candidate[], repo: ImportsRepo, skip: SkipReporter): Promise<number> {
  const batch = table === "urls" ? await withoutRetiredCodes(candidates, repo, skip) : candidates;
  if (batch.length === 0) return 0;
  const { inserted, refused } = await insertRowByRowOnError(batch.map((c) => c.row), (rows) => repo.insertSeedRows(table, rows));
  // Two rows of a batch may share an id; the first one is the row that went in.
  const missed: Candidate[] = [];
  const claimed = new Set<number>();
  for (const c of batch) {
    if (inserted.has(c.row.id) && !claimed.has(c.row.id)) claimed.add(c.row.id);
    else missed.push(c);
  }
  if (missed.length === 0) return claimed.size;
  const reasons = await explain(table, missed.map((c) => c.row), repo);
  missed.forEach((c, i) => skip(c.line, refused.get(c.row) ?? reasons[i]!));
  return claimed.size;
}

/** A deleted link's code is never handed out again (urls/repo.ts), not even by an import. */
async function withoutRetiredCodes(batch: Candidate[], repo: ImportsRepo, skip: SkipReporter): Promise<Candidate[]> {
  const retired = await repo.retiredShortCodes(batch.map((c) => (c.row as SeedUrl).short_code));
  if (retired.size === 0) return batch;
  return batch.filter((c) => {
    const code = (c.row as SeedUrl).short_code;
    if (retired.has(code)) skip(c.line, `short_code ${JSON.stringify(code)} belonged to a deleted link and is never reused`);
    return !retired.has(code);
  });
}

/** Why rows that passed validation did not go in: a missing reference or a taken unique value. */
async function explain(table: TableName, rows: SeedRow[], repo: ImportsRepo): Promise<string[]> {
  const ids = await repo.existing(table, rows.map((r) => r.id));
  if (table === "users") {
    const users = rows as { id: number; username: string; email: string }[];
    const taken = await repo.takenUserFields(users.map((u) => u.username), users.map((u) => u.email));
    return users.map((u) => ids.has(u.id) ? `id ${u.id} already exists`
      : taken.usernames.has(u.username) ? `username ${JSON.stringify(u.username)} already exists`
        : taken.emails.has(u.email) ? `email ${JSON.stringify(u.email)} already exists` : "a unique value already exists");
  }
  const users = await repo.existing("users", rows.map((r) => (r as SeedUrl | SeedEvent).user_id));
  if (table === "urls") {
    const urls = rows as SeedUrl[];
    const codes = await repo.takenShortCodes(urls.map((u) => u.short_code));
    return urls.map((u) => !users.has(u.user_id) ? `user_id ${u.user_id} does not exist`
      : ids.has(u.id) ? `id ${u.id} already exists`
        : codes.has(u.short_code) ? `short_code ${JSON.stringify(u.short_code)} already exists` : "a unique value already exists");
  }
  const events = rows as SeedEvent[];
  const urls = await repo.existing("urls", events.map((e) => e.url_id));
  return events.map((e) => !urls.has(e.url_id) ? `url_id ${e.url_id} does not exist`
    : !users.has(e.user_id) ? `user_id ${e.user_id} does not exist`
      : ids.has(e.id) ? `id ${e.id} already exists` : "a unique value already exists");
}

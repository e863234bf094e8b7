/**
 * The rules of POST /users/bulk: admins only; a file without a usable header is refused whole;
 * otherwise every row is judged alone, and the good ones are committed in batches whatever the
 * bad ones do (docs/API.md, CSV import).
 */
import { requireAdmin, type Principal } from "../http/auth.ts";
import { badRequest } from "../http/errors.ts";
import { checkRecord, readHeader, requireColumns, type Header } from "./columns.ts";
import { readCsvRecords } from "./csv-reader.ts";
import { MAX_REPORTED_ERRORS, type BulkImportResultJson, type SkippedRowJson } from "./model.ts";
import { insertRowByRowOnError, type ImportsRepo } from "./repo.ts";
import { uploadedUser, type Checked, type UploadedUser } from "./rows.ts";

/** Rows per INSERT: large enough to be fast, small enough for the statement timeout. */
export const UPLOAD_BATCH_ROWS = 1000;

interface Candidate { line: number; user: UploadedUser }

export function createImportsService(repo: ImportsRepo) {
  /** Inserts one batch and reports each row that did not go in. */
  async function insertBatch(batch: Candidate[], skip: (line: number, reason: string) => void): Promise<number> {
    if (batch.length === 0) return 0;
    const { inserted, refused } = await insertRowByRowOnError(batch.map((c) => c.user), (users) => repo.insertUploadedUsers(users));
    const missed = batch.filter((c) => !inserted.has(c.user.username));
    if (missed.length > 0) {
      const taken = await repo.takenUserFields(missed.map((c) => c.user.username), missed.map((c) => c.user.email));
      for (const { line, user } of missed) {
        const reason = refused.get(user)
          ?? (taken.usernames.has(user.username) ? `username ${JSON.stringify(user.username)} already exists`
            : taken.emails.has(user.email) ? `email ${JSON.stringify(user.email)} already exists`
              : "username or email already exists");
        skip(line, reason);
      }
    }
    return inserted.size;
  }

  return {
    /** Imports the users of one uploaded CSV file (its raw bytes). */
    async importUsers(principal: Principal, file: Uint8Array): Promise<BulkImportResultJson> {
      requireAdmin(principal);
      if (file.byteLength === 0) throw badRequest("the file is empty (0 bytes)");
      const skipped: SkippedRowJson[] = [];
      const skip = (line: number, reason: string) => { skipped.push({ line, reason }); };
      const dedupe = createDeduper();
      let header: (Header & { ok: true }) | undefined;
      let batch: Candidate[] = [];
      let imported = 0;

      for await (const records of readCsvRecords([file])) {
        for (const record of records) {
          if (!header) {
            header = usableHeader(record.fields);
            continue;
          }
          const checked = dedupe(record.line, checkRecord(record, header, uploadedUser));
          if (!checked.ok) skip(record.line, checked.reason);
          else batch.push({ line: record.line, user: checked.value });
          if (batch.length >= UPLOAD_BATCH_ROWS) {
            imported += await insertBatch(batch, skip);
            batch = [];
          }
        }
      }
      if (!header) throw badRequest("the file has no header row");
      imported += await insertBatch(batch, skip);

      skipped.sort((a, b) => a.line - b.line);
      return {
        imported,
        skipped: skipped.length,
        errors: skipped.slice(0, MAX_REPORTED_ERRORS),
        errors_truncated: skipped.length > MAX_REPORTED_ERRORS,
      };
    },
  };
}

export type ImportsService = ReturnType<typeof createImportsService>;

function usableHeader(fields: string[]): Header & { ok: true } {
  const header = requireColumns(readHeader(fields), ["username", "email"]);
  if (!header.ok) throw badRequest(`${header.reason}; the first line must name the columns, e.g. username,email`);
  return header;
}

/** A row repeating an earlier row's username or email is skipped (exact match, as the unique indexes compare). */
function createDeduper() {
  const usernames = new Map<string, number>();
  const emails = new Map<string, number>();
  return (line: number, checked: Checked<UploadedUser>): Checked<UploadedUser> => {
    if (!checked.ok) return checked;
    const { username, email } = checked.value;
    const sameName = usernames.get(username);
    if (sameName !== undefined) return { ok: false, reason: `username ${JSON.stringify(username)} repeats line ${sameName}` };
    const sameEmail = emails.get(email);
    if (sameEmail !== undefined) return { ok: false, reason: `email ${JSON.stringify(email)} repeats line ${sameEmail}` };
    usernames.set(username, line);
    emails.set(email, line);
    return checked;
  };
}

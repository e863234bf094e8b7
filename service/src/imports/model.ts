/** POST /users/bulk as the API sees it: the upload and the report. */
import { t, type Static } from "elysia";
import { JsonInt } from "../http/openapi.ts";

/** Skipped rows listed in a response; the count covers them all. */
export const MAX_REPORTED_ERRORS = 100;

export const BulkImportBody = t.Object({
  file: t.File({ description: "CSV, UTF-8: a header with username and email (created_at optional; id and other columns ignored), at most 10 MiB" }),
});

export const SkippedRow = t.Object({
  line: JsonInt({ description: "1-based line of the file where the row starts; the header is line 1" }),
  reason: t.String(),
});
export type SkippedRowJson = Static<typeof SkippedRow>;

export const BulkImportResult = t.Object({
  imported: JsonInt({ description: "rows inserted" }),
  skipped: JsonInt({ description: "rows not inserted, each for a reason" }),
  errors: t.Array(SkippedRow, { description: `the first ${MAX_REPORTED_ERRORS} skipped rows by line` }),
  errors_truncated: t.Boolean({ description: "true when more rows were skipped than `errors` lists" }),
});
export type BulkImportResultJson = Static<typeof BulkImportResult>;

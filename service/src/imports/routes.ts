/** HTTP for POST /users/bulk: read the upload within its limit, call the service, return the report. */
import { Elysia } from "elysia";
import { authenticated, type Authenticator } from "../http/auth.ts";
import { MAX_CONCURRENT_UPLOADS, MULTIPART_BODY_LIMIT } from "../http/body-limits.ts";
import { ApiError, badRequest } from "../http/errors.ts";
import { readBodyLimited } from "../http/json-body.ts";
import { ErrorBody } from "../http/openapi.ts";
import { uploadSlots, type UploadSlots } from "../http/upload-slots.ts";
import { BulkImportBody, BulkImportResult } from "./model.ts";
import type { ImportsService } from "./service.ts";

/** Room for the multipart boundaries and part headers around a file of the full 10 MiB. */
const ENVELOPE_BYTES = 64 * 1024;

export function importsRoutes(deps: { auth: Authenticator; imports: ImportsService }, slots: UploadSlots = uploadSlots(MAX_CONCURRENT_UPLOADS)) {
  return new Elysia({ prefix: "/users" })
    .use(authenticated(deps.auth))
    // The slot taken in parse is given back once the response has gone, error or not.
    .onAfterResponse(({ request }) => slots.give(request))
    .post("/bulk", async ({ principal, body, set }) => {
      const result = await deps.imports.importUsers(principal, await body.file.bytes());
      set.status = 201;
      return result;
    }, {
      parse: ({ request }) => {
        slots.take(request);
        return readUpload(request);
      },
      body: BulkImportBody,
      response: { 201: BulkImportResult, 400: ErrorBody, 403: ErrorBody, 413: ErrorBody, 503: ErrorBody },
      detail: {
        tags: ["users"],
        summary: "Import users from a CSV file",
        description: "Rows are judged one by one: bad rows are skipped and listed by line, good rows are kept. Admin key only.",
      },
    });
}

/**
 * Our own multipart reading instead of Elysia's, so the size limit holds before anything is
 * buffered: Content-Length first, then the bytes actually read, then the file part's size.
 */
async function readUpload(request: Request): Promise<{ file: unknown }> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data\b/i.test(type)) throw badRequest("the body must be multipart/form-data with the CSV in a part named \"file\"");
  const bytes = await readBodyLimited(request, MULTIPART_BODY_LIMIT + ENVELOPE_BYTES);
  const form = await new Response(bytes, { headers: { "content-type": type } }).formData().catch(() => {
    throw badRequest("the multipart/form-data body could not be parsed");
  });
  const file = form.get("file");
  if (file instanceof Blob && file.size > MULTIPART_BODY_LIMIT) {
    throw new ApiError("payloadTooLarge", `the file is larger than ${MULTIPART_BODY_LIMIT} bytes`, { limit_bytes: MULTIPART_BODY_LIMIT });
  }
  // A missing or text part is left to the body schema, which answers 400 after authentication.
  return { file: file ?? undefined };
}

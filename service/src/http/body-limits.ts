/** The CSV upload limit, 10 MiB (docs/API.md, CSV import); JSON bodies have theirs in json-body.ts. */
export const MULTIPART_BODY_LIMIT = 10 * 1024 * 1024;

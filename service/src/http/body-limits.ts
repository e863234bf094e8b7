/** The CSV upload limit, 10 MiB (docs/API.md, CSV import); JSON bodies have theirs in json-body.ts. */
export const MULTIPART_BODY_LIMIT = 10 * 1024 * 1024;

/**
 * CSV uploads one instance reads at once (default 2); one more is a 503 with Retry-After. Each
 * holds its body (up to 10 MiB, about three times that while parsed) until its import ends.
 */
export const MAX_CONCURRENT_UPLOADS = 2;

/** The CSV upload limit from the contract (section 3.2); JSON bodies have theirs in json-body.ts. */
export const MULTIPART_BODY_LIMIT = 10 * 1024 * 1024;

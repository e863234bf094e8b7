/** Request body limits from the contract (section 1 and 3.2). */
export { JSON_BODY_LIMIT } from "./json-body.ts";
export const MULTIPART_BODY_LIMIT = 10 * 1024 * 1024;

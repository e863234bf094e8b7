/**
 * Strict JSON request bodies. JSON.parse alone accepts what PostgreSQL or a careful client would
 * not: invalid UTF-8 (silently replaced), duplicate keys (last one wins), NUL characters and lone
 * surrogates (PostgreSQL rejects both in text and jsonb), and nesting deep enough to exhaust a
 * parser's stack. Each becomes a 400 here, before any handler runs.
 */
import { ApiError, badRequest } from "./errors.ts";

export const JSON_BODY_LIMIT = 1024 * 1024;
export const MAX_JSON_DEPTH = 32;

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Reads at most `limit` bytes of a body; a larger one is a 413 without reading the rest. */
export async function readBodyLimited(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

export const tooLarge = (limit: number) =>
  new ApiError("payloadTooLarge", `request body is larger than ${limit} bytes`, { limit_bytes: limit });

export async function parseJsonObject(request: Request): Promise<Record<string, unknown>> {
  const bytes = await readBodyLimited(request, JSON_BODY_LIMIT);
  if (bytes.byteLength === 0) throw badRequest("request body must be a JSON object; it was empty");
  let text: string;
  try {
    text = fatalUtf8.decode(bytes);
  } catch {
    throw badRequest("request body is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw badRequest(`request body is not valid JSON: ${err instanceof SyntaxError ? err.message : "parse error"}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw badRequest(`request body must be a JSON object, not ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}`);
  }
  checkValue(value, 1, "");
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) throw badRequest(`request body repeats the key ${JSON.stringify(duplicate)}`);
  return value as Record<string, unknown>;
}

export function checkValue(value: unknown, depth: number, path: string): void {
  if (typeof value === "string") {
    if (value.includes("\u0000")) throw badRequest(`${path || "body"}: text may not contain NUL characters`);
    if (!value.isWellFormed()) throw badRequest(`${path || "body"}: text contains an unpaired surrogate`);
    return;
  }
  if (typeof value !== "object" || value === null) return;
  if (depth > MAX_JSON_DEPTH) throw badRequest(`request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkValue(item, depth + 1, `${path}[${i}]`));
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    checkValue(key, depth, path ? `${path}.${key}` : key);
    checkValue(item, depth + 1, path ? `${path}.${key}` : key);
  }
}

/**
 * Scans already-valid JSON text and returns the first key repeated within one object. Runs
 * after JSON.parse succeeded, so the text is well-formed and only strings and braces matter.
 */
export function findDuplicateKey(text: string): string | undefined {
  const stack: (Set<string> | null)[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "{") { stack.push(new Set()); i++; continue; }
    if (c === "[") { stack.push(null); i++; continue; }
    if (c === "}" || c === "]") { stack.pop(); i++; continue; }
    if (c !== '"') { i++; continue; }
    const end = endOfString(text, i);
    const keys = stack[stack.length - 1];
    if (keys && isKeyPosition(text, end)) {
      const key = JSON.parse(text.slice(i, end + 1)) as string;
      if (keys.has(key)) return key;
      keys.add(key);
    }
    i = end + 1;
  }
  return undefined;
}

function endOfString(text: string, start: number): number {
  let i = start + 1;
  while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
  return i;
}

function isKeyPosition(text: string, endQuote: number): boolean {
  let i = endQuote + 1;
  while (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t") i++;
  return text[i] === ":";
}

/**
 * Key material: how a key looks, how it is stored, and how a request presents it.
 * Keys are `lf_` + 40 base62 characters (≈238 bits); only their SHA-256 and a display prefix
 * are stored. A slow hash would add nothing at that entropy and cost every request.
 */
import { createHash } from "node:crypto";
import { unauthorized } from "../http/errors.ts";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY_LENGTH = 40;
export const KEY_PREFIX = "lf_";
// 248 = 4 × 62: bytes at or above it are dropped so that `byte % 62` favours no character.
const UNBIASED_LIMIT = 248;
// Enough to tell keys apart in a listing; the remaining 33 characters still carry ≈196 bits.
const DISPLAY_PREFIX_LENGTH = 10;
// Generated keys are 43 characters; anything far longer cannot be ours and is not worth hashing.
const MAX_PRESENTED_LENGTH = 256;

export function generateKey(): string {
  const bytes = new Uint8Array(64);
  let body = "";
  while (body.length < BODY_LENGTH) {
    crypto.getRandomValues(bytes);
    for (const b of bytes) {
      if (b < UNBIASED_LIMIT && body.length < BODY_LENGTH) body += ALPHABET[b % ALPHABET.length];
    }
  }
  return KEY_PREFIX + body;
}

/** SHA-256 hex of the whole key as UTF-8; the same as PostgreSQL's `encode(sha256(convert_to(key,'UTF8')),'hex')`. */
export const hashKey = (key: string): string => createHash("sha256").update(key, "utf8").digest("hex");

export const displayPrefix = (key: string): string => key.slice(0, DISPLAY_PREFIX_LENGTH);

/**
 * The key from `Authorization: Bearer <key>`: the scheme is case-insensitive (RFC 9110 §11.1)
 * and exactly one token must follow it. Anything else is a 401 that says what is wrong.
 */
export function parseBearer(header: string | undefined): string {
  const value = header?.trim() ?? "";
  if (value === "") throw unauthorized("missing Authorization header; send Authorization: Bearer <key>");
  const [scheme = "", ...tokens] = value.split(/[ \t]+/);
  if (scheme.toLowerCase() !== "bearer") throw unauthorized("Authorization header must use the Bearer scheme: Authorization: Bearer <key>");
  if (tokens.length !== 1) throw unauthorized("Authorization: Bearer must be followed by exactly one key");
  const key = tokens[0] ?? "";
  if (key.length > MAX_PRESENTED_LENGTH) throw unauthorized("unknown API key");
  return key;
}

/**
 * The rules a CSV row must pass, written once for the upload (POST /users/bulk) and the
 * operator import. Users are checked with the very schema POST /users validates with.
 * A bad row is a value with a reason, never a throw: it is an expected outcome, and one bad row
 * must not end an import.
 */
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { ApiError } from "../http/errors.ts";
import { checkValue } from "../http/json-body.ts";
import { isDbId } from "../http/params.ts";
import { parseTimestamp } from "../lib/time.ts";
import { CreateEventBody } from "../events/model.ts";
import { CreateUrlBody, originalUrlProblem } from "../urls/model.ts";
import { CreateUserBody, type CreateUserInput } from "../users/model.ts";
import { RESERVED_SEGMENTS } from "../redirect/reserved-segments.ts";

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };
/** Reads a field of the current record by column name ("" when absent). */
export type Field = (name: string) => string;

/** A user from an upload: ids are the server's; `created_at` is null (now) when absent or unreadable. */
export interface UploadedUser { username: string; email: string; created_at: string | null }
export interface SeedUser { id: number; username: string; email: string; created_at: string }
export interface SeedUrl {
  id: number; user_id: number; short_code: string; original_url: string; title: string | null;
  is_active: boolean; created_at: string; updated_at: string;
}
/** `details` stays the file's JSON text, so numbers and key order reach jsonb exactly as written. */
export interface SeedEvent { id: number; url_id: number; user_id: number; event_type: string; timestamp: string; details: string }

// The API's own schemas, so a CSV row passes exactly when the same values would pass the API.
const userBody = TypeCompiler.Compile(CreateUserBody);
const urlTitle = TypeCompiler.Compile(CreateUrlBody.properties.title);
const eventType = TypeCompiler.Compile(CreateEventBody.properties.event_type);
const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });
const show = (text: string) => JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);

/** Exactly the POST /users rules, from its schema; an empty field gets a plainer reason. */
export function checkUser(input: CreateUserInput): Checked<CreateUserInput> {
  if (input.username === "") return fail("username is empty");
  if (input.email === "") return fail("email is empty");
  if (userBody.Check(input)) return { ok: true, value: input };
  const first = userBody.Errors(input).First();
  const field = first?.path.replace(/^\//, "") || "row";
  return fail(`invalid ${field} ${show(String(first?.value ?? ""))}: ${first?.message ?? "rejected"}`);
}

export function uploadedUser(get: Field): Checked<UploadedUser> {
  const user = checkUser({ username: get("username"), email: get("email") });
  if (!user.ok) return user;
  // An upload's created_at is kept when it parses; otherwise the row gets "now", not a skip.
  const created = timeField(get, "created_at");
  return { ok: true, value: { ...user.value, created_at: created.ok ? created.value : null } };
}

export function seedUser(get: Field): Checked<SeedUser> {
  const id = idField(get, "id");
  if (!id.ok) return id;
  const user = checkUser({ username: get("username"), email: get("email") });
  if (!user.ok) return user;
  const created = timeField(get, "created_at");
  if (!created.ok) return created;
  return { ok: true, value: { id: id.value, ...user.value, created_at: created.value } };
}

const SHORT_CODE = /^[A-Za-z0-9]{1,16}$/;

export function seedUrl(get: Field): Checked<SeedUrl> {
  const id = idField(get, "id");
  if (!id.ok) return id;
  const userId = idField(get, "user_id");
  if (!userId.ok) return userId;
  const code = get("short_code");
  if (!SHORT_CODE.test(code)) return fail(`short_code ${show(code)} must be 1 to 16 letters or digits`);
  if (RESERVED_SEGMENTS.has(code)) return fail(`short_code ${show(code)} is a fixed path (/${code}) and would never redirect`);
  const url = get("original_url");
  const urlProblem = originalUrlProblem(url);
  if (urlProblem) return fail(`original_url ${show(url)} ${urlProblem}`);
  const title = get("title");
  if (!urlTitle.Check(title)) return fail("title is longer than 255 characters");
  const active = get("is_active").trim().toLowerCase();
  if (active !== "true" && active !== "false") return fail(`is_active ${show(get("is_active"))} must be True or False`);
  const created = timeField(get, "created_at");
  if (!created.ok) return created;
  const updated = timeField(get, "updated_at");
  if (!updated.ok) return updated;
  return {
    ok: true,
    value: {
      id: id.value, user_id: userId.value, short_code: code, original_url: url,
      // CSV cannot tell an empty title from none; the API's "no title" is null.
      title: title === "" ? null : title,
      is_active: active === "true", created_at: created.value, updated_at: updated.value,
    },
  };
}

export function seedEvent(get: Field): Checked<SeedEvent> {
  const id = idField(get, "id");
  if (!id.ok) return id;
  const urlId = idField(get, "url_id");
  if (!urlId.ok) return urlId;
  const userId = idField(get, "user_id");
  if (!userId.ok) return userId;
  const type = get("event_type");
  if (!eventType.Check(type)) return fail(`event_type ${show(type)} must be 1 to 64 characters, not all spaces`);
  const at = timeField(get, "timestamp");
  if (!at.ok) return at;
  const details = jsonObjectField(get("details"));
  if (!details.ok) return details;
  return { ok: true, value: { id: id.value, url_id: urlId.value, user_id: userId.value, event_type: type, timestamp: at.value, details: details.value } };
}

function idField(get: Field, name: string): Checked<number> {
  const text = get(name);
  const n = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
  return isDbId(n) ? { ok: true, value: n } : fail(`${name} ${show(text)} is not a positive integer`);
}

/**
 * A timestamp that lib/time reads. The text itself goes to PostgreSQL, which reads every form
 * parseTimestamp accepts (a UTC suffix is ignored by `timestamp`) and, unlike Date, keeps microseconds.
 */
function timeField(get: Field, name: string): Checked<string> {
  const text = get(name);
  return parseTimestamp(text) ? { ok: true, value: text.trim() } : fail(`${name} ${show(text)} is not a timestamp like 2024-03-10 12:15:09`);
}

/** The details rules of POST /events: a JSON object, no NUL, no lone surrogate, bounded nesting. */
function jsonObjectField(text: string): Checked<string> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail(`details ${show(text)} is not valid JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return fail("details must be a JSON object");
  try {
    checkValue(value, 2, "details"); // depth 2: details sits one level inside a POST /events body
  } catch (err) {
    if (err instanceof ApiError) return fail(err.message);
    throw err;
  }
  return { ok: true, value: text };
}

/** API keys as the admin API sees them: the create schema, the output schemas and row → JSON. */
import { t, type Static } from "elysia";
import type { ApiKeyRow } from "../db/schema.ts";
import { JsonInt } from "../http/openapi.ts";
import { MAX_DB_ID } from "../http/params.ts";
import { formatTimestamp } from "../lib/time.ts";

export const KEY_SCOPES = ["admin", "user"] as const;
export type KeyScope = (typeof KEY_SCOPES)[number];

const scope = t.Union([t.Literal("admin"), t.Literal("user")], { description: "admin: everything; user: only its own user's records" });
// varchar(100) in the schema; "non-empty after trimming" like every other name in the API.
const name = t.String({ minLength: 1, maxLength: 100, pattern: "\\S", description: "label shown in listings" });
// A JSON integer like http/params.ts jsonId, capped so an impossible id is a 400 here.
const userId = t.Number({ multipleOf: 1, minimum: 1, maximum: MAX_DB_ID, description: "owner of a user-scoped key (JSON integer)" });

export const CreateKeyBody = t.Object({
  name,
  scope,
  user_id: t.Optional(userId),
});
export type CreateKeyInput = Static<typeof CreateKeyBody>;

const timestamp = t.String({ description: "UTC, YYYY-MM-DDTHH:MM:SS" });

export const ApiKey = t.Object({
  id: JsonInt(),
  name: t.String(),
  prefix: t.String({ description: "first characters of the key, to tell keys apart" }),
  scope,
  user_id: t.Union([JsonInt(), t.Null()]),
  created_at: timestamp,
  last_used_at: t.Union([timestamp, t.Null()], { description: "updated at most once a minute" }),
  revoked_at: t.Union([timestamp, t.Null()]),
});
export type ApiKeyJson = Static<typeof ApiKey>;

/** The only response that ever carries the plaintext key. */
export const CreatedKey = t.Object({
  id: JsonInt(),
  name: t.String(),
  prefix: t.String(),
  scope,
  user_id: t.Union([JsonInt(), t.Null()]),
  created_at: timestamp,
  key: t.String({ description: "the secret; shown once, store it now" }),
});
export type CreatedKeyJson = Static<typeof CreatedKey>;

const orNull = (d: Date | null) => (d ? formatTimestamp(d) : null);

/** The fields every view of a key shares. */
const keyFields = (row: ApiKeyRow) => ({
  id: row.id,
  name: row.name,
  prefix: row.prefix,
  scope: row.scope,
  user_id: row.userId,
  created_at: formatTimestamp(row.createdAt),
});

export const apiKeyJson = (row: ApiKeyRow): ApiKeyJson => ({
  ...keyFields(row),
  last_used_at: orNull(row.lastUsedAt),
  revoked_at: orNull(row.revokedAt),
});

export const createdKeyJson = (row: ApiKeyRow, key: string): CreatedKeyJson => ({ ...keyFields(row), key });

/** Users as the API sees them: input schemas, the output schema and the row → JSON mapping. */
import { t, type Static } from "elysia";
import { JsonInt } from "../http/openapi.ts";
import { formatTimestamp } from "../lib/time.ts";
import type { UserRow } from "../db/schema.ts";

// "non-empty after trimming": at least one non-space character somewhere.
const username = t.String({ minLength: 1, maxLength: 255, pattern: "\\S", description: "case-sensitive, unique" });
export const EMAIL_PATTERN = "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$";
const email = t.String({ maxLength: 255, pattern: EMAIL_PATTERN, description: "unique; name@host.tld" });

export const CreateUserBody = t.Object({ username, email });
export const UpdateUserBody = t.Object({ username: t.Optional(username), email: t.Optional(email) });
export type CreateUserInput = Static<typeof CreateUserBody>;
export type UpdateUserInput = Static<typeof UpdateUserBody>;

export const User = t.Object({
  id: JsonInt(),
  username: t.String(),
  email: t.String(),
  created_at: t.String({ description: "UTC, YYYY-MM-DDTHH:MM:SS" }),
});
export type UserJson = Static<typeof User>;

export const userJson = (row: UserRow): UserJson => ({
  id: row.id,
  username: row.username,
  email: row.email,
  created_at: formatTimestamp(row.createdAt),
});

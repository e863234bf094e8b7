/**
 * The database as drizzle sees it. `bun run db:generate` turns changes here into a new SQL
 * migration under ./migrations (committed, embedded in the binary).
 */
import { sql } from "drizzle-orm";
import { boolean, index, integer, jsonb, pgTable, serial, text, timestamp, varchar } from "drizzle-orm/pg-core";

// Timestamps are UTC without a zone, as the contract prints them; every connection runs with
// TimeZone=UTC so now() agrees.
const utc = (name: string) => timestamp(name, { mode: "date", precision: 6 });

export const users = pgTable("users", {
  id: serial("id").primaryKey(),
  username: varchar("username", { length: 255 }).notNull().unique(),
  email: varchar("email", { length: 255 }).notNull().unique(),
  createdAt: utc("created_at").notNull().defaultNow(),
});

export const urls = pgTable(
  "urls",
  {
    id: serial("id").primaryKey(),
    userId: integer("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    shortCode: varchar("short_code", { length: 16 }).notNull().unique(),
    originalUrl: text("original_url").notNull(),
    title: varchar("title", { length: 255 }),
    isActive: boolean("is_active").notNull().default(true),
    createdAt: utc("created_at").notNull().defaultNow(),
    updatedAt: utc("updated_at").notNull().defaultNow(),
  },
  (t) => [
    // GET /urls?user_id=…[&is_active=…] ordered by id: one index answers filter and order.
    index("urls_user_id_id_idx").on(t.userId, t.id),
    index("urls_is_active_id_idx").on(t.isActive, t.id),
  ],
);

export const events = pgTable(
  "events",
  {
    id: serial("id").primaryKey(),
    urlId: integer("url_id").notNull().references(() => urls.id, { onDelete: "cascade" }),
    userId: integer("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    eventType: varchar("event_type", { length: 64 }).notNull(),
    timestamp: utc("timestamp").notNull().defaultNow(),
    details: jsonb("details").$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
  },
  (t) => [
    // Each GET /events filter is ordered by id; (filter, id) lets a page stop after per_page rows.
    index("events_url_id_id_idx").on(t.urlId, t.id),
    index("events_user_id_id_idx").on(t.userId, t.id),
    index("events_event_type_id_idx").on(t.eventType, t.id),
    index("events_timestamp_idx").on(t.timestamp),
  ],
);

// Codes of hard-deleted links: a short code is never handed out twice, so an old link that is
// still printed somewhere cannot start pointing at someone else's destination.
export const retiredCodes = pgTable("retired_codes", {
  code: varchar("code", { length: 16 }).primaryKey(),
  retiredAt: utc("retired_at").notNull().defaultNow(),
});

export const apiKeys = pgTable(
  "api_keys",
  {
    id: serial("id").primaryKey(),
    name: varchar("name", { length: 100 }).notNull(),
    // First characters of the key, shown in listings so an operator can tell keys apart.
    prefix: varchar("prefix", { length: 16 }).notNull(),
    // SHA-256 of the whole key: keys are 190 bits of randomness, so a slow hash adds nothing.
    hash: varchar("hash", { length: 64 }).notNull().unique(),
    scope: varchar("scope", { length: 16 }).$type<"admin" | "user">().notNull(),
    userId: integer("user_id").references(() => users.id, { onDelete: "cascade" }),
    createdAt: utc("created_at").notNull().defaultNow(),
    lastUsedAt: utc("last_used_at"),
    revokedAt: utc("revoked_at"),
  },
  (t) => [index("api_keys_user_id_idx").on(t.userId)],
);

export type UserRow = typeof users.$inferSelect;
export type UrlRow = typeof urls.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type RetiredCodeRow = typeof retiredCodes.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;

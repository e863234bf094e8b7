/**
 * The database as drizzle sees it. `bun run db:generate` turns changes here into a new SQL
 * migration under ./migrations (committed, embedded in the binary).
 */
import { sql } from "drizzle-orm";
import { boolean, index, integer, jsonb, pgTable, serial, text, timestamp, varchar } from "drizzle-orm/pg-core";
// Click rollups (clicks/repo.ts) need these; a line of their own so schema edits do not collide.
import { date, primaryKey, uuid } from "drizzle-orm/pg-core";
// The click spool offsets (clicks/repo.ts).
import { bigint, bigserial } from "drizzle-orm/pg-core";
// Link options (migration 0004).
import { check } from "drizzle-orm/pg-core";

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
    // Link options (migration 0004), all off by default so a link without them answers as before.
    // Null: never expires. From then on the code answers 410.
    expiresAt: utc("expires_at"),
    // Null: no cap. After this many counted clicks the code answers 410.
    maxClicks: bigint("max_clicks", { mode: "number" }),
    // Appends the request's query string to original_url on redirect.
    forwardQuery: boolean("forward_query").notNull().default(false),
  },
  (t) => [
    check("urls_max_clicks_positive", sql`${t.maxClicks} > 0`),
    // GET /urls?user_id=…[&is_active=…] ordered by id: one index answers filter and order.
    index("urls_user_id_id_idx").on(t.userId, t.id),
    index("urls_is_active_id_idx").on(t.isActive, t.id),
  ],
);

// Partitioned by month of "timestamp" (migration 0003, db/event-partitions.ts): drizzle-kit cannot
// express partitioning, so the migration that creates it is hand-written. A partitioned table's
// unique keys must contain the partition key, hence (id, timestamp); ids stay unique because only
// the sequence assigns them. 64-bit: at 2,500 clicks/s a 32-bit sequence ran out in ten days.
// mode "number": ids stay plain JSON numbers, exact up to 2^53 (a million clicks a second for
// 285 years).
export const events = pgTable(
  "events",
  {
    id: bigserial("id", { mode: "number" }).notNull(),
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
    primaryKey({ columns: [t.id, t.timestamp] }),
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

// Rate-limit bans: Redis answers "is this subject banned" on every request; this table is the
// record that survives a Redis flush and that /admin/bans lists and lifts.
export const bans = pgTable(
  "bans",
  {
    // 64-bit: one row per ban of any client IP grows with abuse, not with users (migration 0003).
    id: bigserial("id", { mode: "number" }).primaryKey(),
    // A client IP, or the SHA-256 hex of an API key as presented (the limiter never looks keys up).
    subject: varchar("subject", { length: 128 }).notNull(),
    kind: varchar("kind", { length: 8 }).$type<"ip" | "key">().notNull(),
    // 1: temporary, 2: permanent (warnings are counted in Redis, never stored).
    level: integer("level").notNull(),
    reason: text("reason").notNull(),
    // Null: permanent.
    until: utc("until"),
    createdAt: utc("created_at").notNull().defaultNow(),
    liftedAt: utc("lifted_at"),
  },
  (t) => [index("bans_kind_subject_idx").on(t.kind, t.subject), index("bans_created_at_idx").on(t.createdAt)],
);

// Click ids already written (clicks/repo.ts): a stream entry redelivered after a crash between
// commit and XACK, or a click that reached both the stream and the fallback, is skipped here.
export const clickReceipts = pgTable(
  "click_receipts",
  {
    clickId: uuid("click_id").primaryKey(),
    seenAt: utc("seen_at").notNull().defaultNow(),
  },
  // For pruning old receipts by age.
  (t) => [index("click_receipts_seen_at_idx").on(t.seenAt)],
);

// How far each instance's click spool (clicks/spool-*.ts) has reached PostgreSQL: every click
// before byte `byte_offset` of segment `segment` is in events. Updated in the same transaction as
// the rows it covers, with compare-and-set on the previous position, so a batch commits once.
export const spoolOffsets = pgTable("spool_offsets", {
  spoolId: text("spool_id").primaryKey(),
  segment: bigint("segment", { mode: "number" }).notNull(),
  byteOffset: bigint("byte_offset", { mode: "number" }).notNull(),
  updatedAt: utc("updated_at").notNull().defaultNow(),
});

// Click rollups per link per UTC day, counted per click batch and upserted in the transaction that
// inserts its clicked events, so GET /urls/:id/stats reads at most one row per day and key
// instead of scanning events.
// A function: each table needs its own column builders.
const rollupDay = () => ({
  urlId: integer("url_id").notNull().references(() => urls.id, { onDelete: "cascade" }),
  day: date("day", { mode: "string" }).notNull(),
  clicks: integer("clicks").notNull(),
  // Of `clicks`, those from crawlers, unfurlers and monitors: stats leave them out unless asked.
  botClicks: integer("bot_clicks").notNull().default(0),
});

export const clickDaily = pgTable("click_daily", rollupDay(), (t) => [
  primaryKey({ columns: [t.urlId, t.day] }),
  // The console's top links today (admin-links/repo.ts) read one day's rows, not every day's. Not
  // on clicks: an indexed column that changes would end the rollup upserts' HOT updates.
  index("click_daily_day_idx").on(t.day),
]);

// The referrer's host only ("(direct)", "(other)"): bounded keys, see clicks/rollup.ts.
export const clickReferrers = pgTable(
  "click_referrers",
  { ...rollupDay(), referrer: varchar("referrer", { length: 255 }).notNull() },
  (t) => [primaryKey({ columns: [t.urlId, t.day, t.referrer] })],
);

// A small closed set of user-agent families, never the raw header.
export const clickAgents = pgTable(
  "click_agents",
  { ...rollupDay(), agent: varchar("agent", { length: 32 }).notNull() },
  (t) => [primaryKey({ columns: [t.urlId, t.day, t.agent] })],
);

export type UserRow = typeof users.$inferSelect;
export type UrlRow = typeof urls.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type RetiredCodeRow = typeof retiredCodes.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type BanRow = typeof bans.$inferSelect;

// Click caps (migration 0005, clicks/caps.ts). A link with max_clicks takes a slot here before
// its 302: `claimed` counts the slots taken, and only a claim that finds it below max_clicks
// raises it (one statement, under this row's lock), so no instance can answer more 302s than
// the cap. Kept beside urls, not in it: a claim must not rewrite the row every lookup reads.
export const clickCaps = pgTable("click_caps", {
  urlId: integer("url_id").primaryKey().references(() => urls.id, { onDelete: "cascade" }),
  claimed: bigint("claimed", { mode: "number" }).notNull().default(0),
  // How many slots the last claim statement took (one statement claims for all the clicks an
  // instance has waiting): computed from the locked row in the same SET, since RETURNING shows
  // only the new row.
  granted: bigint("granted", { mode: "number" }).notNull().default(0),
});

// A slot taken whose click has not reached events yet: the row goes when its spool batch ships
// (same transaction as the event), or is released (the slot given back) once its click is
// certain never to reach a spool: its process died before writing it. `incarnation` names the
// process that claimed, `pid` lets a sibling instance on the host tell that it is gone.
export const clickClaims = pgTable(
  "click_claims",
  {
    clickId: uuid("click_id").primaryKey(),
    urlId: integer("url_id").notNull().references(() => urls.id, { onDelete: "cascade" }),
    spoolId: text("spool_id").notNull(),
    incarnation: uuid("incarnation").notNull(),
    pid: integer("pid").notNull(),
    claimedAt: utc("claimed_at").notNull().defaultNow(),
  },
  (t) => [index("click_claims_spool_idx").on(t.spoolId, t.incarnation), index("click_claims_url_id_idx").on(t.urlId)],
);

/** Every SQL statement about bans. Only ban creation, the sync and the admin API come here; never a request's check. */
import { and, asc, count, eq, gt, isNull, or } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { bans, type BanRow } from "../db/schema.ts";

export type BanKind = "ip" | "key";
export type NewBan = Pick<BanRow, "subject" | "kind" | "level" | "reason" | "until">;

export function createBansRepo(db: Db) {
  const active = (now: Date) => and(isNull(bans.liftedAt), or(isNull(bans.until), gt(bans.until, now)));
  return {
    async insert(ban: NewBan, now: Date): Promise<BanRow> {
      const [row] = await db.insert(bans).values({ ...ban, createdAt: now }).returning();
      return row!;
    },

    /** Temporary bans an admin did not lift: the ladder towards a permanent ban. */
    async countTemporary(kind: BanKind, subject: string): Promise<number> {
      const [row] = await db.select({ n: count() }).from(bans)
        .where(and(eq(bans.kind, kind), eq(bans.subject, subject), eq(bans.level, 1), isNull(bans.liftedAt)));
      return row?.n ?? 0;
    },

    active(now: Date): Promise<BanRow[]> {
      return db.select().from(bans).where(active(now)).orderBy(asc(bans.id));
    },

    /** Bans an admin lifted since `since`, by id: the sync re-applies them where a store missed the lift. */
    liftedSince(since: Date): Promise<BanRow[]> {
      return db.select().from(bans).where(gt(bans.liftedAt, since)).orderBy(asc(bans.id));
    },

    /** Active bans, plus those lifted or expired since `since` when asked. */
    list(now: Date, since: Date | undefined): Promise<BanRow[]> {
      const recent = since ? or(gt(bans.liftedAt, since), and(isNull(bans.liftedAt), gt(bans.until, since))) : undefined;
      return db.select().from(bans).where(recent ? or(active(now), recent) : active(now)).orderBy(asc(bans.id));
    },

    async findById(id: number): Promise<BanRow | undefined> {
      const [row] = await db.select().from(bans).where(eq(bans.id, id));
      return row;
    },

    /** Keeps the first lifted_at when lifted twice. */
    async lift(id: number, now: Date): Promise<BanRow | undefined> {
      const [row] = await db.update(bans).set({ liftedAt: now }).where(and(eq(bans.id, id), isNull(bans.liftedAt))).returning();
      return row ?? this.findById(id);
    },
  };
}

export type BansRepo = ReturnType<typeof createBansRepo>;

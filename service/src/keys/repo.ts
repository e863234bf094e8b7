/** Every SQL statement about API keys. */
import { and, asc, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { isForeignKeyViolation } from "../db/errors.ts";
import { apiKeys, type ApiKeyRow } from "../db/schema.ts";
import type { KeyScope } from "./model.ts";

// Arbitrary but fixed: every linkfort process must use the same number (migrations use 0x11f0_0001).
const BOOTSTRAP_LOCK_ID = 0x11f0_0002;

export interface NewKey {
  name: string;
  scope: KeyScope;
  userId: number | null;
  prefix: string;
  hash: string;
}

/** What authentication needs from a key row, and nothing else. */
export type KeyLookup = Pick<ApiKeyRow, "id" | "scope" | "userId" | "lastUsedAt" | "revokedAt">;



export function createKeysRepo(db: Db) {
  return {
    /** One lookup on the unique hash index; revoked rows are returned so the caller can say so. */
    async findByHash(hash: string): Promise<KeyLookup | undefined> {
      const [row] = await db
        .select({ id: apiKeys.id, scope: apiKeys.scope, userId: apiKeys.userId, lastUsedAt: apiKeys.lastUsedAt, revokedAt: apiKeys.revokedAt })
        .from(apiKeys)
        .where(eq(apiKeys.hash, hash));
      return row;
    },

    /** Undefined when `userId` names no user (the foreign key says so, with no race against a delete). */
    async insert(key: NewKey): Promise<ApiKeyRow | undefined> {
      try {
        const [row] = await db.insert(apiKeys).values(key).returning();
        return row;
      } catch (err) {
        if (isForeignKeyViolation(err)) return undefined;
        throw err;
      }
    },

    /**
     * Inserts an admin key only on a database that never had one: a revoked admin key counts, so
     * revoking a leaked key never gets a new one minted at the next start. The transaction-level
     * advisory lock serialises instances that start together, so exactly one of them inserts; the
     * lock is released by the commit.
     */
    insertAdminIfNone(key: Omit<NewKey, "scope" | "userId">): Promise<ApiKeyRow | undefined> {
      return db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK_ID})`);
        const [had] = await tx.select({ id: apiKeys.id }).from(apiKeys)
          .where(eq(apiKeys.scope, "admin")).limit(1);
        if (had) return undefined;
        const [row] = await tx.insert(apiKeys).values({ ...key, scope: "admin", userId: null }).returning();
        return row;
      });
    },

    list(): Promise<ApiKeyRow[]> {
      return db.select().from(apiKeys).orderBy(asc(apiKeys.id));
    },

    /** Keeps the first revocation time, so revoking twice does not rewrite history. */
    async revoke(id: number): Promise<ApiKeyRow | undefined> {
      const [row] = await db.update(apiKeys)
        .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
        .where(eq(apiKeys.id, id))
        .returning();
      return row;
    },

    /** The condition makes concurrent touches from several instances cost one write a minute, not N. */
    async touch(id: number): Promise<void> {
      await db.update(apiKeys)
        .set({ lastUsedAt: sql`now()` })
        .where(and(eq(apiKeys.id, id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`now() - interval '1 minute'`))));
    },
  };
}

export type KeysRepo = ReturnType<typeof createKeysRepo>;

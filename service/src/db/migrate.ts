/**
 * Applies the embedded migrations. Several instances may start at once, so the work happens
 * under a PostgreSQL advisory lock: the first applies, the others wait and then find nothing to do.
 */
import { PgDialect } from "drizzle-orm/pg-core";
import { readMigrations } from "./read-migrations.ts" with { type: "macro" };
import { drizzle } from "drizzle-orm/postgres-js";
import type { Sql } from "./client.ts";

// Arbitrary but fixed: every linkfort process must use the same number.
const MIGRATION_LOCK_ID = 0x11f0_0001;

const migrations = readMigrations();

/** `upTo`: apply only the first this many migrations (tests and benchmarks of a later migration on an older schema). */
export async function migrate(sql: Sql, opts: { upTo?: number } = {}): Promise<{ applied: number }> {
  const lockConn = await sql.reserve();
  try {
    await lockConn`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    const before = await countApplied(sql);
    // What drizzle's own migrate() does, minus reading files: the migrations are already inlined.
    // The cast only bridges drizzle's generic defaults; the session is a plain PgSession.
    const session = drizzle(sql)._.session as unknown as Parameters<PgDialect["migrate"]>[1];
    await new PgDialect().migrate(migrations.slice(0, opts.upTo ?? migrations.length), session, { migrationsFolder: "" });
    return { applied: (await countApplied(sql)) - before };
  } finally {
    await lockConn`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`.catch(() => {});
    lockConn.release();
  }
}

async function countApplied(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from information_schema.tables
    where table_schema = 'drizzle' and table_name = '__drizzle_migrations'`;
  if (!row || row.n === 0) return 0;
  const [count] = await sql<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
  return count?.n ?? 0;
}

export const migrationCount = migrations.length;

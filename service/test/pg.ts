/** Per-file databases copied from the migrated template that preload.ts prepared. */
import postgres from "postgres";

export const TEMPLATE_DB = "linkfort_template";

export function adminUrl(): string {
  const url = process.env.LINKFORT_TEST_PG_ADMIN_URL;
  if (!url) throw new Error("LINKFORT_TEST_PG_ADMIN_URL is unset: run tests with `bun test` (bunfig.toml preloads the database)");
  return url;
}

export function databaseUrl(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * A new database without rows; migrated unless `unmigrated` (for tests of the migration itself).
 * Drop it with `dropDatabase` when done.
 */
export async function createDatabase(opts: { unmigrated?: boolean } = {}): Promise<{ name: string; url: string }> {
  const name = `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name} template ${opts.unmigrated ? "template0" : TEMPLATE_DB}`);
  } finally {
    await admin.end();
  }
  return { name, url: databaseUrl(name) };
}

export async function dropDatabase(name: string): Promise<void> {
  const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
}

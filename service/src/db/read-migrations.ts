/**
 * Runs at bundle time as a Bun macro (imported `with { type: "macro" }`): reads drizzle-kit's
 * migration folder and inlines its content, so the compiled binary carries its migrations and
 * needs no files beside it.
 */
import { readMigrationFiles, type MigrationMeta } from "drizzle-orm/migrator";

export function readMigrations(): MigrationMeta[] {
  return readMigrationFiles({ migrationsFolder: `${import.meta.dir}/migrations` });
}

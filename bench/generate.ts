#!/usr/bin/env bun
/**
 * Fills a linkfort database with benchmark data by COPY:
 *   bun bench/generate.ts --database-url postgres://… [--links 1000000] [--events 10000000] [--users N]
 * Migrations must have run (the service or `linkfort migrate`). Existing users/urls/events are
 * replaced. Small size for the growth comparison: --links 10000 --events 100000.
 */
import postgres from "postgres";
import { parseFlags } from "../service/src/lib/env.ts";
import { fill } from "./lib/data.ts";

/** `--name value` / `--name=value` with the project's own flag reader; anything else is an error. */
export function parseArgs(argv: string[]): Map<string, string> {
  const { flags, rest } = parseFlags(argv);
  if (rest.length > 0) throw new Error(`unexpected argument ${rest[0]}`);
  return flags;
}

if (import.meta.main) {
  const args = parseArgs(process.argv.slice(2));
  const url = args.get("database-url") ?? process.env.DATABASE_URL;
  if (!url) { process.stderr.write("--database-url or DATABASE_URL is required\n"); process.exit(2); }
  const links = Number(args.get("links") ?? 1_000_000);
  const events = Number(args.get("events") ?? 10_000_000);
  const users = Number(args.get("users") ?? Math.max(1, Math.ceil(links / 100)));
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const t = performance.now();
  try {
    await fill(sql, { users, links, events }, (line) => console.log(line));
    console.log(`done in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  } finally {
    await sql.end();
  }
}

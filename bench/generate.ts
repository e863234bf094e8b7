#!/usr/bin/env bun
/**
 * Fills a linkfort database with benchmark data, generated inside PostgreSQL (bench/lib/data.ts):
 *   bun bench/generate.ts --database-url postgres://… [--links 1000000] [--events 10000000] [--users N]
 * Migrations must have run (the service or `linkfort migrate`). Existing users, urls, events,
 * click rollups and receipts are replaced. Small size for the growth comparison: --links 10000 --events 100000.
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

const HELP = `bun bench/generate.ts --database-url URL [--links N] [--events N] [--users N]
  --database-url URL   a migrated linkfort database (or DATABASE_URL); its users, urls, events and click tables are replaced
  --links N            links, codes b000001… (default 1000000)
  --events N           clicked events spread over the last 90 days, with matching rollups (default 10000000)
  --users N            owners of the links (default links / 100)`;

if (import.meta.main) {
  const args = parseArgs(process.argv.slice(2));
  if (args.has("help")) { console.log(HELP); process.exit(0); }
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

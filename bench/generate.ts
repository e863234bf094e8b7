#!/usr/bin/env bun
/**
 * Fills a linkfort database with benchmark data by COPY:
 *   bun bench/generate.ts --database-url postgres://… [--links 1000000] [--events 10000000] [--users N]
 * Migrations must have run (the service or `linkfort migrate`). Existing users/urls/events are
 * replaced. Small size for the growth comparison: --links 10000 --events 100000.
 */
import postgres from "postgres";
import { fill } from "./lib/data.ts";

export function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf("=");
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1));
    else out.set(a.slice(2), argv[++i] ?? "");
  }
  return out;
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

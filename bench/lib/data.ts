/**
 * Deterministic benchmark data: link i has code codeOf(i), so the load tools know every code
 * without asking the database, and generated codes (7 characters, prefix "b") never collide
 * with the 6-character codes the service issues on POST /urls.
 */
import type { Sql } from "postgres";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export function codeOf(i: number): string {
  let s = "";
  for (let n = i; n > 0; n = Math.floor(n / 62)) s = ALPHABET[n % 62] + s;
  return "b" + s.padStart(6, "0");
}

export interface Sizes {
  users: number;
  links: number;
  events: number;
}

/** COPY rows produced by `row(i)` for i in 1..n, in chunks, respecting the stream's backpressure. */
async function copyRows(sql: Sql, statement: string, n: number, row: (i: number) => string): Promise<void> {
  const stream = await sql.unsafe(statement).writable();
  const CHUNK = 5_000;
  for (let start = 1; start <= n; start += CHUNK) {
    let text = "";
    const end = Math.min(n, start + CHUNK - 1);
    for (let i = start; i <= end; i++) text += row(i);
    if (!stream.write(text)) await new Promise<void>((r) => stream.once("drain", () => r()));
  }
  await new Promise<void>((resolve, reject) => {
    stream.once("error", reject);
    stream.once("finish", () => resolve());
    stream.end();
  });
}

const EPOCH = Date.UTC(2025, 0, 1);
const stamp = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);
// Cheap deterministic spread (Knuth's multiplicative hash), so runs are reproducible.
const spread = (i: number, mod: number) => ((Math.imul(i, 2654435761) >>> 0) % mod) + 1;

/**
 * Empties users/urls/events and fills them with `sizes` rows by COPY, then moves the id
 * sequences past the data so POST /users and /urls keep working.
 */
export async function fill(sql: Sql, sizes: Sizes, log: (line: string) => void = () => {}): Promise<void> {
  await sql.unsafe("truncate events, urls, users restart identity cascade");
  let t = performance.now();
  await copyRows(sql, "copy users (id, username, email, created_at) from stdin", sizes.users,
    (i) => `${i}\tbench${i}\tbench${i}@bench.example\t${stamp(EPOCH)}\n`);
  await copyRows(sql, "copy urls (id, user_id, short_code, original_url, title, is_active, created_at, updated_at) from stdin", sizes.links,
    (i) => `${i}\t${(i % sizes.users) + 1}\t${codeOf(i)}\thttps://example.com/bench/${i}\tbench ${i}\tt\t${stamp(EPOCH)}\t${stamp(EPOCH)}\n`);
  log(`users ${sizes.users} + links ${sizes.links}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  const year = 365 * 86_400_000;
  await copyRows(sql, "copy events (id, url_id, user_id, event_type, timestamp, details) from stdin", sizes.events, (i) => {
    const url = spread(i, sizes.links);
    return `${i}\t${url}\t${(url % sizes.users) + 1}\tclicked\t${stamp(EPOCH + (spread(i + 7, year / 1000) * 1000))}\t{"short_code":"${codeOf(url)}"}\n`;
  });
  log(`events ${sizes.events}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  for (const table of ["users", "urls", "events"]) {
    await sql.unsafe(`select setval(pg_get_serial_sequence('${table}', 'id'), greatest((select max(id) from ${table}), 1))`);
  }
  await sql.unsafe("analyze users; analyze urls; analyze events");
}

/** Redirect paths for the load tools, one per line (the wrk Lua script and autocannon worker read it). */
export async function writeCodes(path: string, links: number): Promise<void> {
  const lines: string[] = [];
  for (let i = 1; i <= links; i++) lines.push(`/${codeOf(i)}`);
  await Bun.write(path, lines.join("\n") + "\n");
}

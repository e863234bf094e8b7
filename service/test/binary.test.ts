import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import postgres from "postgres";
import { buildBinary, startBinary, type RunningBinary } from "./binary.ts";
import { createDatabase, dropDatabase } from "./pg.ts";

// The binary runs with only its own folder and the environment: no node_modules, no source.
let bin: string;
const databases: string[] = [];
const running: RunningBinary[] = [];

async function freshDatabase(): Promise<string> {
  const db = await createDatabase({ unmigrated: true });
  databases.push(db.name);
  return db.url;
}

async function start(env: Record<string, string>): Promise<RunningBinary> {
  const b = await startBinary(bin, { SHUTDOWN_DRAIN_MS: "0", ...env });
  running.push(b);
  return b;
}

beforeAll(async () => { bin = await buildBinary(); }, 120_000);
afterAll(async () => {
  for (const b of running) await b.stop("SIGKILL");
  for (const name of databases) await dropDatabase(name);
}, 30_000);

describe("dist/linkfort alone", () => {
  test("migrates an empty database, prints one admin key, serves redirects and keeps their clicks, bots flagged, after SIGTERM", async () => {
    const url = await freshDatabase();
    const b = await start({ DATABASE_URL: url });
    const [, key] = await b.waitFor(/^\s+(lf_[A-Za-z0-9]+)\s*$/m);
    await b.waitFor(/"msg":"listening"/);
    // Printed once as plain text on stderr; the log record only says so (log shippers keep records).
    expect(b.output().split(key!)).toHaveLength(2);
    expect(b.output()).toContain('"msg":"created the first admin API key; printed on stderr only, this once"');
    const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };

    const user = await fetch(`${b.base}/users`, { method: "POST", headers: auth, body: JSON.stringify({ username: "bin", email: "bin@example.com" }) });
    expect(user.status).toBe(201);
    const { id: userId } = (await user.json()) as { id: number };
    const link = await fetch(`${b.base}/urls`, { method: "POST", headers: auth, body: JSON.stringify({ user_id: userId, original_url: "https://example.com/from-binary?q=1" }) });
    const created = (await link.json()) as { short_code: string };
    expect(link.status, JSON.stringify(created)).toBe(201);

    const redirect = await fetch(`${b.base}/${created.short_code}`, { redirect: "manual" });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("location")).toBe("https://example.com/from-binary?q=1");

    // A browser's click too: the bot flag (isbot, bundled into the binary) tells the two apart.
    const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    expect((await fetch(`${b.base}/${created.short_code}`, { redirect: "manual", headers: { "user-agent": firefox } })).status).toBe(302);

    // The clicks wait in the spool on disk; a graceful stop must ship them before exiting.
    expect(await b.stop("SIGTERM")).toBe(0);
    const sql = postgres(url, { max: 1 });
    const clicks = await sql`select details->>'user_agent' as agent, details ? 'bot' as flagged from events where event_type = 'clicked' order by id`;
    await sql.end();
    // fetch() sends Bun's own user agent, which isbot lists.
    expect([...clicks]).toEqual([{ agent: navigator.userAgent, flagged: true }, { agent: firefox, flagged: false }]);
    expect(b.output()).toContain('"msg":"stopped"');
  }, 60_000);

  test("three instances starting at once on one empty database migrate once and create exactly one admin key", async () => {
    const url = await freshDatabase();
    const instances = await Promise.all([1, 2, 3].map(() => start({ DATABASE_URL: url })));
    await Promise.all(instances.map((b) => b.waitFor(/"msg":"listening"/)));
    for (const b of instances) expect((await fetch(`${b.base}/ready`)).status).toBe(200);
    const sql = postgres(url, { max: 1 });
    const keys = await sql`select count(*)::int as n from api_keys where scope = 'admin'`;
    const migrations = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
    await sql.end();
    expect(keys[0]?.n).toBe(1);
    expect(migrations[0]?.n).toBeGreaterThan(0);
    const printed = instances.filter((b) => /first admin API key/.test(b.output()));
    expect(printed.length).toBe(1);
    await Promise.all(instances.map((b) => b.stop()));
  }, 60_000);

  test("SIGTERM turns /ready to 503 while draining, then exits 0", async () => {
    const b = await start({ DATABASE_URL: await freshDatabase(), SHUTDOWN_DRAIN_MS: "1500" });
    await b.waitFor(/"msg":"listening"/);
    expect((await fetch(`${b.base}/ready`)).status).toBe(200);
    b.proc.kill("SIGTERM");
    await b.waitFor(/"msg":"draining"/);
    const during = await fetch(`${b.base}/ready`);
    expect(during.status).toBe(503);
    expect(((await during.json()) as { status: string }).status).toBe("draining");
    expect((await fetch(`${b.base}/live`)).status).toBe(200);
    expect(await b.proc.exited).toBe(0);
  }, 30_000);

  test("with EXIT_WITH_STDIN, closing stdin (the supervisor died) shuts down gracefully", async () => {
    const b = await start({ DATABASE_URL: await freshDatabase(), EXIT_WITH_STDIN: "true" });
    await b.waitFor(/"msg":"listening"/);
    b.proc.stdin.end();
    expect(await b.proc.exited).toBe(0);
    expect(b.output()).toContain('"signal":"stdin closed"');
  }, 30_000);

  test("three instances started with the same seed import it exactly once", async () => {
    const url = await freshDatabase();
    const seed = join(import.meta.dir, "../seed-data");
    const instances = await Promise.all([1, 2, 3].map(() => start({ DATABASE_URL: url, LINKFORT_SEED: seed })));
    await Promise.all(instances.map((b) => b.waitFor(/"msg":"listening"/)));
    const sql = postgres(url, { max: 1 });
    const [counts] = await sql`select (select count(*)::int from users) as users, (select count(*)::int from urls) as urls, (select count(*)::int from events) as events`;
    await sql.end();
    expect(counts).toEqual({ users: 400, urls: 2000, events: 3422 });
    await Promise.all(instances.map((b) => b.stop()));
  }, 60_000);

  test("database errors keep their mapping in the built binary: a lock timeout is a 503 naming the lock, not a 500", async () => {
    // The mapping once checked postgres.js's class by name, which a minifying build renames.
    const url = await freshDatabase();
    const b = await start({ DATABASE_URL: url, DB_LOCK_TIMEOUT_MS: "200", LINKFORT_AUTH: "open" });
    await b.waitFor(/"msg":"listening"/);
    const holder = postgres(url, { max: 1, onnotice: () => {} });
    try {
      let release!: () => void;
      const released = new Promise<void>((resolve) => { release = resolve; });
      let locked!: () => void;
      const taken = new Promise<void>((resolve) => { locked = resolve; });
      const held = holder.begin(async (tx) => { await tx`lock table urls in access exclusive mode`; locked(); await released; });
      await taken;
      const res = await fetch(`${b.base}/urls/1`);
      const body = (await res.json()) as { error: string; message: string };
      release();
      await held;
      expect(res.status, JSON.stringify(body)).toBe(503);
      expect(body.message).toContain("locked by another database session");
    } finally {
      await holder.end();
      await b.stop();
    }
  }, 60_000);

  test("a bad setting stops the start with exit 2 and names the variable", async () => {
    const b = await start({ DATABASE_URL: "mysql://nope", PORT: "70000" });
    expect(await b.proc.exited).toBe(2);
    expect(b.output()).toContain("PORT");
    expect(b.output()).toContain("DATABASE_URL");
  }, 30_000);

  test("without DATABASE_URL the binary says so instead of crashing", async () => {
    const b = await start({});
    expect(await b.proc.exited).toBe(1);
    expect(b.output()).toContain("set DATABASE_URL");
  }, 30_000);
});

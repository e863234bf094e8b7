import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDatabase, dropDatabase } from "../../test/pg.ts";
import { connect, type Sql } from "../db/client.ts";
import { silentLogger } from "../lib/logger.ts";
import { createMetrics, type Metrics } from "../metrics.ts";
import { createAdopter } from "./adopt.ts";
import type { Click } from "./model.ts";
import { createOffsetsRepo, type OffsetsRepo } from "./offsets-repo.ts";
import { createClicksRepo } from "./repo.ts";
import { createSpoolShipper, type SpoolShipper } from "./shipper.ts";
import { ensureSpoolId, instanceSpoolDir, listSegments, touchAlive } from "./spool-dir.ts";
import { segmentName } from "./spool-format.ts";
import { createSpoolWriter, type SpoolWriter } from "./spool-writer.ts";
import { formatSpoolReports, positionReader, readSpoolReports } from "./spool-status.ts";

let db: { name: string; url: string };
let sql: Sql;
let offsets: OffsetsRepo;
let urlId: number;
let root: string;
let metrics: Metrics;

beforeAll(async () => {
  db = await createDatabase();
  sql = connect({ url: db.url, poolMax: 6, statementTimeoutMs: 10_000, applicationName: "shipper-test" }).sql;
  offsets = createOffsetsRepo(sql, createClicksRepo(sql));
  const [user] = await sql<{ id: number }[]>`insert into users (username, email) values ('ship', 'ship@example.com') returning id`;
  const [url] = await sql<{ id: number }[]>`insert into urls (user_id, short_code, original_url) values (${user!.id}, 'ship1', 'https://ship.example/') returning id`;
  urlId = url!.id;
}, 30_000);
afterAll(async () => { await sql.end(); await dropDatabase(db.name); }, 30_000);
beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), "shipper-test-"));
  metrics = createMetrics();
  await sql`delete from events`;
  await sql`delete from click_daily`;
});

let seq = 0;
const click = (): Click => ({ id: Bun.randomUUIDv7(), urlId, shortCode: "ship1", at: new Date(), userAgent: `n${++seq}` });

function spool(port: number, segmentBytes = 2_048): { dir: string; id: string; writer: SpoolWriter } {
  const dir = instanceSpoolDir(root, port);
  const id = ensureSpoolId(dir);
  const writer = createSpoolWriter({ dir, spoolId: id, metrics, logger: silentLogger, sync: false, segmentBytes, maxBytes: 1 << 30 });
  writer.open();
  return { dir, id, writer };
}

const shipperOf = (s: { dir: string; id: string; writer?: SpoolWriter }, batchMax = 10): SpoolShipper =>
  createSpoolShipper({ dir: s.dir, spoolId: s.id, offsets, metrics, logger: silentLogger, batchMax, appended: s.writer?.appended, onDeleted: s.writer?.forget });

/** Rounds until caught up (contention retried), with a deadline instead of a fixed count of sleeps. */
async function shipAll(shipper: SpoolShipper): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const r = await shipper.runOnce();
    if (r.caughtUp) return;
  }
  throw new Error("shipper did not catch up in 20 s");
}

/** Each click's user agent ("n1", "n2", …) once per clicked event: duplicates and gaps both show. */
const shippedAgents = async () =>
  (await sql<{ ua: string }[]>`select details->>'user_agent' as ua from events where event_type = 'clicked' order by id`).map((r) => r.ua);

describe("shipping a spool to PostgreSQL", () => {
  test("ships every click once, commits the position, deletes shipped segments but keeps the newest", async () => {
    const s = spool(8101);
    const sent = Array.from({ length: 60 }, click);
    for (const c of sent) await s.writer.append(c);
    const shipper = shipperOf(s);
    await shipAll(shipper);
    expect((await shippedAgents()).sort()).toEqual(sent.map((c) => c.userAgent!).sort());
    const position = await offsets.position(s.id);
    const segments = listSegments(s.dir);
    expect(segments.length).toBe(1);
    expect(position).toEqual({ segment: segments[0]!.n, offset: segments[0]!.bytes });
    expect(shipper.unshipped()).toBe(0);
    const [daily] = await sql<{ n: number }[]>`select coalesce(sum(clicks), 0)::int as n from click_daily`;
    expect(daily?.n).toBe(60);
  });

  test("a crash between a commit and the next read: the next process goes on from the committed position", async () => {
    const s = spool(8102);
    const sent = Array.from({ length: 25 }, click);
    for (const c of sent) await s.writer.append(c);
    const before = shipperOf(s);
    await before.runOnce(); // one batch committed, then the process "dies"
    expect((await shippedAgents()).length).toBe(10);
    const restarted = spool(8102); // a new writer: a new segment, as after a restart
    await restarted.writer.append(click());
    await shipAll(shipperOf(restarted));
    expect((await shippedAgents()).length).toBe(26);
    expect(new Set(await shippedAgents()).size).toBe(26);
  });

  test("a shipper whose position is stale loses the compare-and-set and ships nothing twice", async () => {
    const s = spool(8103);
    for (let i = 0; i < 15; i++) await s.writer.append(click());
    const stale = shipperOf(s);
    const other = shipperOf(s);
    await stale.runOnce(); // 10 shipped, position known to `stale`
    await shipAll(other); // reads the committed position, ships the other 5
    for (let i = 0; i < 5; i++) await s.writer.append(click());
    await shipAll(stale); // its first attempt starts from a position that moved
    const agents = await shippedAgents();
    expect(agents.length).toBe(20);
    expect(new Set(agents).size).toBe(20);
  });

  test("two shippers racing on one spool while clicks are appended: each click exactly once", async () => {
    const s = spool(8104, 1_024);
    const a = shipperOf(s, 7);
    const b = shipperOf(s, 5);
    let writing = true;
    const race = async (shipper: SpoolShipper) => {
      while (writing) { await shipper.runOnce(); await Bun.sleep(1); }
      await shipAll(shipper);
    };
    const racing = [race(a), race(b)];
    const sent: Click[] = [];
    for (let i = 0; i < 400; i++) {
      const c = click();
      sent.push(c);
      const pending = s.writer.append(c);
      if (i % 8 === 7) await pending;
    }
    await s.writer.close();
    writing = false;
    await Promise.all(racing);
    const agents = await shippedAgents();
    expect(agents.length).toBe(400);
    expect(new Set(agents)).toEqual(new Set(sent.map((c) => c.userAgent!)));
  }, 60_000);

  test("a spool whose instance stopped running is adopted by another, under a lock, and left alone while alive", async () => {
    const orphan = spool(8105);
    for (let i = 0; i < 30; i++) await orphan.writer.append(click());
    const own = spool(8106);
    const adopter = (port: number) => createAdopter({ root, ownDir: instanceSpoolDir(root, port), offsets, metrics, logger: silentLogger, batchMax: 8, staleMs: 60_000 });

    touchAlive(orphan.dir); // its instance still runs
    expect(await adopter(8106).runOnce()).toBe(0);
    expect((await shippedAgents()).length).toBe(0);

    const old = new Date(Date.now() - 120_000);
    utimesSync(join(orphan.dir, "alive"), old, old); // …and then it is gone
    // Two instances on the host try at once; the lock lets one adopt, and nothing ships twice.
    const [x, y] = await Promise.all([adopter(8106).runOnce(), adopter(8107).runOnce()]);
    await adopter(8106).runOnce();
    expect(x + y).toBeGreaterThan(0);
    const agents = await shippedAgents();
    expect(agents.length).toBe(30);
    expect(new Set(agents).size).toBe(30);
    expect(own.writer.bytes()).toBeGreaterThan(0);
  }, 30_000);
});

describe("bot clicks in the spool", () => {
  // The spool's format did not change when bots began to be flagged: the flag is decided as a
  // batch ships (bots.ts), so a segment an older release left behind ships flagged like a new one.
  // Written byte for byte as that release wrote it, not with today's encoder.
  test("a segment written before bots were flagged ships with its bot clicks flagged and counted apart", async () => {
    const dir = instanceSpoolDir(root, 8109);
    const id = ensureSpoolId(dir);
    const at = Date.UTC(2024, 6, 1, 12);
    const line = (n: number, referrer: string | null, agent: string | null) =>
      `["0190a0a0-0000-7000-8000-00000000000${n}",${urlId},"ship1",${at + n},${JSON.stringify(referrer)},${JSON.stringify(agent)},"198.51.100.${n}"]\n`;
    await Bun.write(join(dir, segmentName(0)), [
      `{"format":"linkfort-click-spool","version":1,"spool":"${id}","segment":0,"created_at":"2024-07-01T11:59:00.000Z","pid":4242}\n`,
      line(1, null, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
      line(2, "https://t.co/x", "Mozilla/5.0 (X11; rv:121.0) Gecko/20100101 Firefox/121.0"),
      line(3, null, null),
      line(4, null, "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"),
    ].join(""));
    await shipAll(shipperOf({ dir, id }));
    const events = await sql<{ details: Record<string, unknown> }[]>`select details from events where event_type = 'clicked' order by timestamp`;
    expect(events.map((e) => e.details)).toEqual([
      { short_code: "ship1", user_agent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", client_ip: "198.51.100.1", bot: true },
      { short_code: "ship1", referrer: "https://t.co/x", user_agent: "Mozilla/5.0 (X11; rv:121.0) Gecko/20100101 Firefox/121.0", client_ip: "198.51.100.2" },
      { short_code: "ship1", client_ip: "198.51.100.3" },
      { short_code: "ship1", user_agent: "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", client_ip: "198.51.100.4", bot: true },
    ]);
    const daily = await sql`select day::text as day, clicks, bot_clicks from click_daily where url_id = ${urlId}`;
    expect([...daily]).toEqual([{ day: "2024-07-01", clicks: 4, bot_clicks: 2 }]);
    const agents = await sql`select agent, clicks, bot_clicks from click_agents where url_id = ${urlId} and day = '2024-07-01' order by agent`;
    expect([...agents]).toEqual([
      { agent: "(none)", clicks: 1, bot_clicks: 0 }, { agent: "bot", clicks: 2, bot_clicks: 2 }, { agent: "firefox", clicks: 1, bot_clicks: 0 },
    ]);
  });
});

describe("linkfort spool status", () => {
  test("reads the files alone, and with PostgreSQL also what is not shipped yet", async () => {
    const s = spool(8108);
    for (let i = 0; i < 25; i++) await s.writer.append(click());
    await shipperOf(s).runOnce(); // 10 of 25 shipped
    const filesOnly = await readSpoolReports(s.dir);
    expect(filesOnly).toMatchObject([{ dir: s.dir, id: s.id }]);
    expect(filesOnly[0]!.committed).toBeUndefined();
    expect(filesOnly[0]!.segments.reduce((n, x) => n + x.clicks, 0)).toBe(25);
    expect(formatSpoolReports(filesOnly, "DATABASE_URL is unset")).toContain("shipped: unknown (DATABASE_URL is unset)");
    const withDb = await readSpoolReports(root, positionReader(sql));
    const report = withDb.find((r) => r.id === s.id)!;
    expect(report.unshipped).toBe(15);
    expect(formatSpoolReports([report], "")).toContain("15 clicks not yet shipped");
  });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

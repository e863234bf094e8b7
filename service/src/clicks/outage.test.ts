import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { buildBinary, startBinary, type RunningBinary } from "../../test/binary.ts";
import { createDatabase, dropDatabase } from "../../test/pg.ts";
import { tcpProxy, type TcpProxy } from "../../test/tcp-proxy.ts";

// A compiled instance whose PostgreSQL goes away (a stopped TCP proxy cuts and refuses its
// connections) while redirects of a cached link keep coming. OUTAGE_S lengthens it (default 12 s).
const OUTAGE_MS = Number(process.env.OUTAGE_S ?? 12) * 1000;
let bin: string;
let db: { name: string; url: string };
let proxy: TcpProxy;
let root: string;
let instance: RunningBinary;

beforeAll(async () => {
  [bin, db] = await Promise.all([buildBinary(), createDatabase({ unmigrated: true })]);
  root = mkdtempSync(join(tmpdir(), "linkfort-outage-spool-"));
  const target = new URL(db.url);
  proxy = tcpProxy({ host: target.hostname, port: Number(target.port) });
  await proxy.start();
  target.port = String(proxy.port);
  instance = await startBinary(bin, { DATABASE_URL: target.toString(), SHUTDOWN_DRAIN_MS: "0", RATE_LIMITS: "false", CLICK_SPOOL_DIR: root, CLICK_SHIP_MS: "50" });
  await instance.waitFor(/"msg":"listening"/);
}, 120_000);
afterAll(async () => {
  await instance.stop("SIGKILL");
  await proxy.stop();
  await dropDatabase(db.name);
  rmSync(root, { recursive: true, force: true });
}, 30_000);

const rssBytes = async (pid: number) => Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(await Bun.file(`/proc/${pid}/status`).text())?.[1]) * 1024;
const health = async () => (await (await fetch(`${instance.base}/health`)).json()) as { db: string; click_spool: { bytes: number; unshipped_clicks: number | null; oldest_unshipped_age_seconds: number } };

describe("PostgreSQL down under load", () => {
  test("clicks pile up on disk, not in memory, and every one reaches PostgreSQL once it is back", async () => {
    const [, key] = await instance.waitFor(/^\s+(lf_[A-Za-z0-9]+)\s*$/m);
    const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };
    const user = (await (await fetch(`${instance.base}/users`, { method: "POST", headers: auth, body: JSON.stringify({ username: "o", email: "o@example.com" }) })).json()) as { id: number };
    const link = (await (await fetch(`${instance.base}/urls`, { method: "POST", headers: auth, body: JSON.stringify({ user_id: user.id, original_url: "https://outage.example/" }) })).json()) as { short_code: string };
    expect((await fetch(`${instance.base}/${link.short_code}`, { redirect: "manual" })).status).toBe(302); // cached now
    let answered = 1;
    let other = 0;

    await proxy.stop();
    const outageEnds = Date.now() + OUTAGE_MS;
    const rss: { at: number; bytes: number }[] = [];
    const sampler = (async () => {
      while (Date.now() < outageEnds) { rss.push({ at: Date.now(), bytes: await rssBytes(instance.proc.pid) }); await Bun.sleep(250); }
    })();
    const worker = async () => {
      while (Date.now() < outageEnds) {
        const res = await fetch(`${instance.base}/${link.short_code}`, { redirect: "manual" });
        if (res.status === 302) answered++;
        else other++;
      }
    };
    await Promise.all([sampler, ...Array.from({ length: 12 }, worker)]);
    const during = await health();
    await proxy.start();

    expect(during.db).toBe("down");
    expect(during.click_spool.unshipped_clicks).toBeGreaterThan(answered / 2);
    expect(during.click_spool.oldest_unshipped_age_seconds).toBeGreaterThan(OUTAGE_MS / 2000);
    // Early outage (after the first quarter, once the process has warmed up) against its end:
    // the backlog grew many times over, memory must not follow it.
    const early = rss.find((s) => s.at >= rss[0]!.at + OUTAGE_MS / 4)!.bytes;
    const late = rss.at(-1)!.bytes;
    console.log(`outage: ${answered} redirects answered 302 (${other} other answers) in ${OUTAGE_MS / 1000} s, spool ${during.click_spool.bytes} bytes, RSS early ${(early / 2 ** 20).toFixed(1)} MiB, late ${(late / 2 ** 20).toFixed(1)} MiB`);
    expect(late / early).toBeLessThan(1.5);

    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      const clicked = async () => (await sql<{ n: number }[]>`select count(*)::int as n from events where event_type = 'clicked'`)[0]!.n;
      const back = Date.now();
      // Shipping a long outage's backlog takes about as long as the outage on a loaded machine.
      const deadline = back + Math.max(60_000, 2 * OUTAGE_MS);
      while ((await clicked()) < answered && Date.now() < deadline) await Bun.sleep(200);
      const n = await clicked();
      console.log(`outage: PostgreSQL back, ${n} clicked events of ${answered} 302s (lost ${answered - n}) after ${((Date.now() - back) / 1000).toFixed(1)} s`);
      expect(n).toBe(answered);
      // Last, so that a failing run still reports every number above.
      expect(other).toBe(0);
      const after = await health();
      expect(after.click_spool.unshipped_clicks).toBe(0);
      expect(after.click_spool.oldest_unshipped_age_seconds).toBe(0);
    } finally {
      await sql.end();
    }
  }, Math.max(150_000, 3 * OUTAGE_MS + 60_000));
});

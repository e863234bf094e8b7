/**
 * kill -9 of an instance while clicks on a capped link are in flight (compiled binaries, one
 * database, no Redis): after the restart the link settles to exactly max_clicks clicked events
 * and slots, every 302 is one of those events, and the only other events are requests the kill
 * cut off after their click was spooled. The killed instance reaches PostgreSQL through a
 * loopback proxy that, under load, stops passing PostgreSQL's answers; the instance dies once a
 * claim statement of its has completed since: claims committed whose answer it never read (the
 * orphans this file is about) are then certain to exist.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { buildBinary, startBinary, type RunningBinary } from "../../test/binary.ts";
import { createDatabase, dropDatabase } from "../../test/pg.ts";
import { freePort } from "../../test/ports.ts";
import { tcpProxy, type TcpProxy } from "../../test/tcp-proxy.ts";
import { settle, waitFor } from "../../test/wait.ts";

let bin: string;
let db: { name: string; url: string };
let root: string;
let proxy: TcpProxy;
const running: RunningBinary[] = [];

beforeAll(async () => {
  [bin, db] = await Promise.all([buildBinary(), createDatabase({ unmigrated: true })]);
  root = mkdtempSync(join(tmpdir(), "linkfort-caps-kill-"));
  const target = new URL(db.url);
  proxy = tcpProxy({ host: target.hostname, port: Number(target.port) });
  await proxy.start();
}, 120_000);
afterAll(async () => {
  for (const b of running) await b.stop("SIGKILL");
  await proxy.stop();
  await dropDatabase(db.name);
  rmSync(root, { recursive: true, force: true });
}, 30_000);

async function start(port: number, databaseUrl = db.url): Promise<RunningBinary> {
  const b = await startBinary(bin, { DATABASE_URL: databaseUrl, PORT: String(port), SHUTDOWN_DRAIN_MS: "0", RATE_LIMITS: "false", CLICK_SPOOL_DIR: root, CLICK_SHIP_MS: "50" });
  running.push(b);
  await b.waitFor(/"msg":"listening"/);
  return b;
}

/** Slots given back, as the instances logged them. */
const released = (b: RunningBinary) =>
  [...b.output().matchAll(/"msg":"click cap slots released[^\n]*"claims":(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);

describe("kill -9 while a capped link's clicks are in flight", () => {
  test("settles to exactly max_clicks events and slots; every 302 is an event; orphaned claims are given back", async () => {
    const portA = await freePort();
    const proxied = new URL(db.url);
    proxied.port = String(proxy.port);
    let a = await start(portA, proxied.toString());
    const [, key] = await a.waitFor(/^\s+(lf_[A-Za-z0-9]+)\s*$/m);
    const b = await start(await freePort());
    const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };
    const user = await (await fetch(`${a.base}/users`, { method: "POST", headers: auth, body: JSON.stringify({ username: "capkill", email: "capkill@example.com" }) })).json() as { id: number };
    const link = await (await fetch(`${a.base}/urls`, { method: "POST", headers: auth, body: JSON.stringify({ user_id: user.id, original_url: "https://capkill.example/" }) })).json() as { id: number; short_code: string };
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      const N = 400;
      const put = await fetch(`${a.base}/urls/${link.id}`, { method: "PUT", headers: auth, body: JSON.stringify({ max_clicks: N }) });
      expect(put.status, await put.text()).toBe(200);

      const redirected = new Set<string>();
      const cutOff = new Set<string>();
      let sent = 0;
      let killed = false;
      const request = async (target: RunningBinary, agent: string) => {
        try {
          const res = await fetch(`${target.base}/${link.short_code}`, { redirect: "manual", headers: { "user-agent": agent } });
          const body = await res.text();
          if (res.status === 302) redirected.add(agent);
          else if (res.status !== 410 || !body.includes("reached its click limit")) cutOff.add(agent);
        } catch {
          cutOff.add(agent); // in flight on A when it died
        }
      };
      // A claim of A's is made to wait in PostgreSQL (the test holds the link's cap row), then
      // PostgreSQL's answers to A stop (its statements still run and commit) and the row is let
      // go: that claim commits, its slots are taken, A never learns of it, and A dies. Its clicks
      // never reached a spool and no 302 went out for them: orphans, with certainty.
      const freezeThenKill = async (victim: RunningBinary) => {
        const watch = postgres(db.url, { max: 1, onnotice: () => {} });
        const ofA = async (where: "waiting" | "busy") => (await watch<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity where application_name = ${`linkfort:${portA}`}
            and query like '%insert into click_caps%'
            and ${where === "waiting" ? watch`wait_event_type = 'Lock'` : watch`state <> 'idle'`}`)[0]!.n;
        const { promise: letGo, resolve } = Promise.withResolvers<void>();
        const holding = sql.begin(async (tx) => {
          await tx`select 1 from click_caps where url_id = ${link.id} for update`;
          await letGo;
        });
        try {
          await waitFor("a claim of A's waiting on the cap row", async () => (await ofA("waiting")) > 0, 10_000);
          proxy.hold({ answersOnly: true });
          resolve();
          await holding;
          await waitFor("that claim to commit", async () => (await ofA("busy")) === 0, 10_000);
        } finally {
          resolve();
          await watch.end();
        }
        killed = true; // like Caddy after a failed health check: from now on traffic goes to B only
        victim.proc.kill("SIGKILL");
        await victim.proc.exited;
        proxy.release();
      };
      let frozen: Promise<void> | undefined;
      const KILL_AT = 300;
      const CONCURRENCY = 32;
      const worker = async () => {
        while (sent < 3 * N) {
          const n = ++sent;
          if (n === KILL_AT) frozen = freezeThenKill(a);
          await request(!killed && n % 2 === 0 ? a : b, `req-${n}`);
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      await frozen;
      await a.proc.exited;
      expect(a.proc.signalCode).toBe("SIGKILL");
      expect(redirected.size).toBeLessThanOrEqual(N);

      // systemd's Restart=always: A comes back on its port, ships its spool, then gives back the
      // slots its previous process claimed and never spooled; clients keep coming until settled.
      a = await start(portA);
      let more = 0;
      const state = async () => {
        const [row] = await sql<{ events: number; claimed: number; open: number }[]>`
          select (select count(*)::int from events where event_type = 'clicked' and url_id = ${link.id}) as events,
            (select coalesce(max(claimed), 0)::int from click_caps where url_id = ${link.id}) as claimed,
            (select count(*)::int from click_claims where url_id = ${link.id}) as open`;
        return row!;
      };
      const settled = await settle(async () => {
        const s = await state();
        if (s.claimed < N) for (let i = 0; i < 8; i++) await request(i % 2 ? a : b, `after-${++more}`);
        return s;
      }, (s) => s.events === N && s.claimed === N && s.open === 0, 60_000, 100);
      const agents = (await sql<{ ua: string }[]>`select details->>'user_agent' as ua from events where event_type = 'clicked' and url_id = ${link.id}`).map((r) => r.ua);
      const once = new Set(agents);
      const slotsBack = released(a) + released(b);
      const report = `302s ${redirected.size}, cut off ${cutOff.size}, events ${agents.length}, slots released ${slotsBack}, state ${JSON.stringify(settled)}`;
      console.log(`capped kill -9: ${report}`);
      expect(settled, report).toEqual({ events: N, claimed: N, open: 0 });
      expect(once.size, report).toBe(agents.length); // none twice
      expect([...redirected].filter((ua) => !once.has(ua)), report).toEqual([]); // every 302 is an event
      expect(agents.filter((ua) => !redirected.has(ua) && !cutOff.has(ua)), report).toEqual([]); // nothing else
      expect(redirected.size, report).toBeLessThanOrEqual(N);
      // The kill left claims committed and never spooled: without their release the link would
      // settle short of max_clicks.
      expect(slotsBack, report).toBeGreaterThan(0);
      expect(await a.stop("SIGTERM")).toBe(0);
      expect(await b.stop("SIGTERM")).toBe(0);
    } finally {
      await sql.end();
    }
  }, 180_000);
});

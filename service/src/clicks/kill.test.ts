import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { buildBinary, startBinary, type RunningBinary } from "../../test/binary.ts";
import { createDatabase, dropDatabase } from "../../test/pg.ts";
import { freePort } from "../../test/ports.ts";

// Two compiled instances on one database, no Redis (the default stack), each with its spool
// under one root, as on a VM.
let bin: string;
let db: { name: string; url: string };
let root: string;
const running: RunningBinary[] = [];

beforeAll(async () => {
  [bin, db] = await Promise.all([buildBinary(), createDatabase({ unmigrated: true })]);
  root = mkdtempSync(join(tmpdir(), "linkfort-kill-spool-"));
}, 120_000);
afterAll(async () => {
  for (const b of running) await b.stop("SIGKILL");
  await dropDatabase(db.name);
  rmSync(root, { recursive: true, force: true });
}, 30_000);

async function start(port: number): Promise<RunningBinary> {
  const b = await startBinary(bin, { DATABASE_URL: db.url, PORT: String(port), SHUTDOWN_DRAIN_MS: "0", RATE_LIMITS: "false", CLICK_SPOOL_DIR: root, CLICK_SHIP_MS: "50" });
  running.push(b);
  await b.waitFor(/"msg":"listening"/);
  return b;
}

async function setup(base: string, key: string): Promise<string> {
  const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  const user = await fetch(`${base}/users`, { method: "POST", headers: auth, body: JSON.stringify({ username: "kill", email: "kill@example.com" }) });
  const { id } = (await user.json()) as { id: number };
  const link = await fetch(`${base}/urls`, { method: "POST", headers: auth, body: JSON.stringify({ user_id: id, original_url: "https://kill.example/" }) });
  return ((await link.json()) as { short_code: string }).short_code;
}

describe("kill -9 of an instance under load", () => {
  test("every 302 answered is one clicked event after the restart ships the spool; the only other clicks are requests the kill cut off", async () => {
    const portA = await freePort();
    let a = await start(portA);
    const [, key] = await a.waitFor(/^\s+(lf_[A-Za-z0-9]+)\s*$/m);
    const b = await start(await freePort());
    const code = await setup(a.base, key!);

    const TOTAL = 3_000;
    const KILL_AT = 1_000;
    const CONCURRENCY = 16;
    let sent = 0;
    const answered = new Set<string>();
    const cutOff = new Set<string>();
    let killed = false;
    const worker = async () => {
      while (sent < TOTAL) {
        // Like Caddy after a failed health check: once A is dead, traffic goes to B only.
        const target = !killed && sent % 2 === 0 ? a : b;
        const n = ++sent;
        if (n === KILL_AT) { killed = true; a.proc.kill("SIGKILL"); }
        // Each request names itself in its user agent, which its clicked event keeps.
        const agent = `req-${n}`;
        try {
          const res = await fetch(`${target.base}/${code}`, { redirect: "manual", headers: { "user-agent": agent } });
          if (res.status === 302) answered.add(agent);
          else cutOff.add(agent);
        } catch {
          cutOff.add(agent); // in flight on A when it died: the client got no 302
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await a.proc.exited;
    expect(a.proc.signalCode).toBe("SIGKILL");
    expect(answered.size + cutOff.size).toBe(TOTAL);
    expect(cutOff.size).toBeLessThanOrEqual(CONCURRENCY);

    // systemd's Restart=always: A comes back on its port and ships what its spool holds first.
    a = await start(portA);
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    const agents = async () => (await sql<{ ua: string }[]>`select details->>'user_agent' as ua from events where event_type = 'clicked'`).map((r) => r.ua);
    try {
      const deadline = Date.now() + 30_000;
      while ((await agents()).filter((ua) => answered.has(ua)).length < answered.size && Date.now() < deadline) await Bun.sleep(100);
      expect(await a.stop("SIGTERM")).toBe(0);
      expect(await b.stop("SIGTERM")).toBe(0);
      const clicked = await agents();
      const once = new Set(clicked);
      const report = `302s ${answered.size}, cut off ${cutOff.size}, clicked ${clicked.length}\n${a.output().slice(-1500)}`;
      console.log(`kill -9: ${report.split("\n")[0]}`);
      expect(once.size, report).toBe(clicked.length); // none twice
      expect([...answered].filter((ua) => !once.has(ua)), report).toEqual([]); // none answered is lost
      expect(clicked.filter((ua) => !answered.has(ua) && !cutOff.has(ua)), report).toEqual([]); // nothing else
      const [daily] = await sql<{ n: number }[]>`select coalesce(sum(clicks), 0)::int as n from click_daily`;
      expect(daily?.n).toBe(clicked.length);
    } finally {
      await sql.end();
    }
  }, 120_000);
});

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { buildBinary, startBinary, type RunningBinary } from "../../test/binary.ts";
import { createDatabase, dropDatabase } from "../../test/pg.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";

// Two compiled instances on one database and one Redis, as in production behind Caddy.
let bin: string;
let redis: TestRedis;
let db: { name: string; url: string };
const running: RunningBinary[] = [];

beforeAll(async () => {
  [bin, redis, db] = await Promise.all([buildBinary(), startRedis(), createDatabase({ unmigrated: true })]);
}, 120_000);
afterAll(async () => {
  for (const b of running) await b.stop("SIGKILL");
  await redis.stop();
  await dropDatabase(db.name);
}, 30_000);

async function start(): Promise<RunningBinary> {
  const b = await startBinary(bin, {
    DATABASE_URL: db.url, REDIS_URL: redis.url, SHUTDOWN_DRAIN_MS: "0", RATE_LIMITS: "false",
    // Short enough that the survivor takes the dead instance's entries within the test.
    CLICK_STREAM_CLAIM_IDLE_MS: "500", CLICK_STREAM_BLOCK_MS: "100", CLICK_STREAM_BATCH: "50",
  });
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
  test("no answered click is lost or doubled: clicked events are the 302s plus at most the responses the kill cut off", async () => {
    const a = await start();
    const [, key] = await a.waitFor(/^\s+(lf_[A-Za-z0-9]+)\s*$/m);
    const b = await start();
    const code = await setup(a.base, key!);

    const TOTAL = 1_200;
    const KILL_AT = 400;
    const CONCURRENCY = 8;
    let sent = 0;
    let ok = 0;
    let failed = 0;
    let killed = false;
    const worker = async () => {
      while (sent < TOTAL) {
        // Like Caddy after a failed health check: once A is dead, traffic goes to B only.
        const target = !killed && sent % 2 === 0 ? a : b;
        if (++sent === KILL_AT) { killed = true; a.proc.kill("SIGKILL"); }
        try {
          const res = await fetch(`${target.base}/${code}`, { redirect: "manual" });
          if (res.status === 302) ok++;
          else failed++;
        } catch {
          failed++; // in flight on A when it died: the client got no 302
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await a.proc.exited;
    expect(a.proc.signalCode).toBe("SIGKILL");
    expect(ok + failed).toBe(TOTAL);
    // Only requests in flight on A at the kill can fail, so at most one per client connection.
    expect(failed).toBeLessThanOrEqual(CONCURRENCY);

    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    const clicked = async () => (await sql<{ n: number }[]>`select count(*)::int as n from events where event_type = 'clicked'`)[0]!.n;
    try {
      // The survivor claims what the dead instance had read but not acked, after CLAIM_IDLE.
      const deadline = Date.now() + 20_000;
      while ((await clicked()) < ok && Date.now() < deadline) await Bun.sleep(50);
      expect(await b.stop("SIGTERM")).toBe(0);
      const n = await clicked();
      // No answered click is lost, none is counted twice. The only clicks beyond the 302s are
      // requests whose click was in Redis when the kill cut their response off: the redirect
      // records before it answers, and a response in flight cannot be known to arrive.
      expect(n, `clicked ${n}, 302s ${ok}, failed ${failed}\n${b.output().slice(-2000)}`).toBeGreaterThanOrEqual(ok);
      expect(n - ok).toBeLessThanOrEqual(failed);
      const [daily] = await sql<{ n: number }[]>`select coalesce(sum(clicks), 0)::int as n from click_daily`;
      expect(daily?.n).toBe(n);
    } finally {
      await sql.end();
    }
  }, 90_000);
});

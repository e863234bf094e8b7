/**
 * Zero failed requests through Caddy (the repository's Caddyfile) while instances are rolled
 * or killed: real instances, real PostgreSQL, real Caddy, and a bounded load loop of redirects.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { freePort } from "../../service/test/ports.ts";
import { requireTool } from "../../service/test/tools.ts";
import { startCaddy, type RunningCaddy } from "../src/proxy/caddy.ts";
import { createRollingRestart } from "../src/rolling/rolling-restart.ts";
import { probeReady } from "../src/watch/probe.ts";
import { alertKeys } from "../src/watch/transitions.ts";
import { startFleet, testLogger, type Fleet } from "./fleet.ts";
import { startLoad, type LoadLoop } from "./load.ts";
import { waitFor } from "../../service/test/wait.ts";
import { isReady } from "./processes.ts";

const ROOT = join(import.meta.dir, "../..");
let fleet: Fleet;
let caddy: RunningCaddy;
let publicPort: number;
let stateDir: string;
const CODE = "qsLoad1";

beforeAll(async () => {
  const caddyBin = requireTool("caddy");
  // Drain 1 s: longer than Caddy's 250 ms health interval, as SHUTDOWN_DRAIN_MS must be in production.
  fleet = await startFleet({ count: 3, config: { drainMs: 1_000 } });
  const sql = postgres(fleet.databaseUrl, { max: 1, onnotice: () => {} });
  await sql`insert into users (username, email) values ('load', 'load@example.com')`;
  await sql`insert into urls (user_id, short_code, original_url) select id, ${CODE}, 'https://example.com/load' from users where username = 'load'`;
  await sql.end();
  await fleet.waitAllReady();
  fleet.watch();
  publicPort = await freePort();
  stateDir = await mkdtemp(join(tmpdir(), "linkfort-caddy-"));
  caddy = await startCaddy({
    bin: caddyBin, caddyfile: join(ROOT, "Caddyfile"), publicPort, upstreams: fleet.ports.map((p) => `127.0.0.1:${p}`),
    adminAddress: `127.0.0.1:${await freePort()}`, dataDir: stateDir, baseEnv: { PATH: process.env.PATH }, output: "ignore", logger: testLogger,
  });
  await waitFor("a redirect through caddy", async () => (await fetch(`http://127.0.0.1:${publicPort}/${CODE}`, { redirect: "manual" })).status === 302);
}, 60_000);

afterAll(async () => {
  await caddy?.stop();
  await fleet?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
}, 30_000);

const url = () => `http://127.0.0.1:${publicPort}/${CODE}`;

/** Until the load has had `count` more redirects answered than it had when called. */
async function moreAnswered(load: LoadLoop, count: number, what: string): Promise<void> {
  const from = load.progress().ok;
  await waitFor(what, () => load.progress().ok >= from + count, 20_000);
}

/** Redirects (302) `port` has answered, from its own /metrics: traffic that Caddy sent it. */
async function redirectsServed(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
  let total = 0;
  for (const [, value] of text.matchAll(/^linkfort_http_requests_total\{[^}]*status="302"[^}]*\} (\d+)/gm)) total += Number(value);
  return total;
}

describe("through caddy under load", () => {
  test("a rolling restart under load loses no request", async () => {
    const before = await Promise.all(fleet.ports.map((p) => fleet.pid(p)));
    const rolling = createRollingRestart({
      ports: fleet.ports, runner: fleet.runner, watcher: fleet.watcher, logger: testLogger,
      probe: (port) => probeReady(`http://127.0.0.1:${port}/ready`, 250), readyTimeoutMs: 10_000, pollMs: 50, settleMs: 500,
    });
    const load = startLoad(url(), { workers: 6, maxMs: 30_000 });
    await moreAnswered(load, 50, "the load to be answered before the restart");
    const t0 = performance.now();
    const result = await rolling();
    const rollMs = performance.now() - t0;
    await moreAnswered(load, 50, "the load to be answered after the restart");
    const traffic = await load.stop();
    console.log(`[timing] rolling restart of 3 under load: ${rollMs.toFixed(0)} ms; ${traffic.requests} requests, ${traffic.failed} failed`);

    expect(result.ok, result.detail).toBe(true);
    expect(result.instances.map((i) => i.port)).toEqual(fleet.ports);
    expect(traffic.failed, traffic.samples.join("\n")).toBe(0);
    expect(traffic.requests).toBeGreaterThan(200);
    const after = await Promise.all(fleet.ports.map((p) => fleet.pid(p)));
    after.forEach((pid, i) => expect(pid).not.toBe(before[i]!));
    // One at a time: each restart began while the other two were healthy.
    expect(fleet.restartLog.map((r) => [r.port, r.othersHealthy])).toEqual(fleet.ports.map((p) => [p, [true, true]]));
    // The watcher did not fight it: no restart of its own, no instance reported down.
    expect(fleet.alerts.calls.filter((c) => c.kind === "raise")).toEqual([]);
  }, 60_000);

  test("an instance killed with SIGKILL under load loses no request", async () => {
    await waitFor("watcher saw all ready", () => fleet.ports.every((p) => fleet.watcher.isHealthy(p)), 10_000);
    const port = fleet.ports[1]!;
    const oldPid = await fleet.pid(port);
    const load = startLoad(url(), { workers: 6, maxMs: 30_000 });
    await moreAnswered(load, 50, "the load to be answered before the kill");
    process.kill(oldPid, "SIGKILL");
    await waitFor("replacement ready", async () => {
      const pid = await fleet.runner.pid(port);
      return pid !== null && pid !== oldPid && (await isReady(port));
    }, 10_000);
    await waitFor("Caddy to send traffic to the new instance again", async () => (await redirectsServed(port)) > 0, 20_000, { retryErrors: true });
    const traffic = await load.stop();
    console.log(`[timing] kill -9 under load: ${traffic.requests} requests, ${traffic.failed} failed`);

    expect(traffic.failed, traffic.samples.join("\n")).toBe(0);
    expect(traffic.requests).toBeGreaterThan(200);
    expect(fleet.alerts.raised(alertKeys.restarted(port))).toHaveLength(1);
  }, 60_000);
});

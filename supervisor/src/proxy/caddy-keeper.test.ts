/**
 * Caddy kept running, live. Regression: in the quick start a Caddy killed with SIGKILL stayed
 * dead: the public port was closed for good while every instance was healthy, because nothing
 * watched Caddy's process.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../../service/src/lib/logger.ts";
import { freePort } from "../../../service/test/ports.ts";
import { requireTool } from "../../../service/test/tools.ts";
import { waitFor } from "../../../service/test/wait.ts";
import type { RunningCaddy } from "./caddy.ts";
import { keepCaddyRunning } from "./caddy-keeper.ts";

let caddy: RunningCaddy;
let upstream: ReturnType<typeof Bun.serve>;
let dataDir: string;
let publicPort: number;

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const answer = async () => (await fetch(`http://127.0.0.1:${publicPort}/x`, { signal: AbortSignal.timeout(1_000) }).catch(() => null))?.status ?? null;

beforeAll(async () => {
  upstream = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ status: "ready" }) });
  dataDir = await mkdtemp(join(tmpdir(), "linkfort-caddy-keeper-"));
  publicPort = await freePort();
  caddy = await keepCaddyRunning({
    bin: requireTool("caddy"), caddyfile: join(import.meta.dir, "../../../Caddyfile"), publicPort, upstreams: [`127.0.0.1:${upstream.port}`],
    dataDir, baseEnv: { PATH: process.env.PATH }, output: "ignore", logger: silentLogger,
  });
}, 30_000);

afterAll(async () => {
  await caddy?.stop();
  upstream?.stop(true);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 30_000);

describe("caddy keeper", () => {
  test("a Caddy killed with SIGKILL is started again on the same public port, under a new PID", async () => {
    await waitFor("caddy to proxy", async () => (await answer()) === 200, 10_000);
    const first = caddy.pid;
    process.kill(first, "SIGKILL");
    const second = await waitFor("a new caddy process", () => (caddy.pid !== first ? caddy.pid : undefined), 15_000);
    expect(alive(first)).toBe(false);
    expect(alive(second)).toBe(true);
    await waitFor("the public port to proxy again", async () => (await answer()) === 200, 15_000);
  }, 40_000);

  test("stop() stops Caddy for good: it is not started again", async () => {
    const pid = caddy.pid;
    await caddy.stop();
    expect(alive(pid)).toBe(false);
    // Proving that nothing happens: a restart would come within 100 ms of the exit.
    await Bun.sleep(500);
    expect(caddy.pid).toBe(pid);
    expect(await answer()).toBeNull();
  }, 30_000);
});

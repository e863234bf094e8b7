/**
 * The whole daemon as an operator runs it, with a Discord webhook: kill -9 of an instance is
 * restarted and reported to Discord exactly once, and the status endpoint tells the same story.
 * The webhook is a local stand-in that records what it receives.
 */
import { afterAll, expect, test } from "bun:test";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { buildBinary } from "../../service/test/binary.ts";
import { createDatabase, dropDatabase } from "../../service/test/pg.ts";
import { freePort } from "../../service/test/ports.ts";
import { requireTool } from "../../service/test/tools.ts";
import type { StatusSnapshot } from "../src/status/snapshot.ts";
import { createDiscordStandIn } from "./discord-stand-in.ts";
import { waitFor } from "../../service/test/wait.ts";
import { alive } from "./processes.ts";
import { spawnSupervisor, tempDataDir } from "./supervisor-process.ts";

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
}, 30_000);

// Caddy on: without it the instances share one port and a probe cannot tell them apart.
test("kill -9 of an instance: back and ready, one restart alert delivered to Discord", async () => {
  requireTool("caddy"); // the supervisor runs it (SUPERVISOR_CADDY=on)
  const discord = createDiscordStandIn();
  await discord.start();
  cleanup.push(() => discord.stop());
  const db = await createDatabase();
  cleanup.push(() => dropDatabase(db.name));
  const dataDir = await tempDataDir();
  cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
  const [statusPort, publicPort, ...ports] = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));

  const sup = spawnSupervisor(["run"], {
    DATABASE_URL: db.url, DATA_DIR: dataDir, BACKUP_DIR: join(dataDir, "backups"), SERVICE_COMMAND: await buildBinary(),
    INSTANCE_PORTS: ports.join(","), STATUS_PORT: String(statusPort), PUBLIC_PORT: String(publicPort), SUPERVISOR_CADDY: "on",
    PROBE_INTERVAL_MS: "100", PROBE_TIMEOUT_MS: "300", START_GRACE_MS: "10000", SHUTDOWN_DRAIN_MS: "100",
    ACCESS_LOG: "false", DISCORD_WEBHOOK_URL: discord.url, ALERT_DEDUP_MS: "60000",
  });
  cleanup.push(async () => { if (alive(sup.proc.pid)) process.kill(-sup.proc.pid, "SIGKILL"); });
  await sup.waitForLog("supervisor started", 60_000);

  const status = async () => (await (await fetch(`http://127.0.0.1:${statusPort}/status`)).json()) as StatusSnapshot;
  const victimPort = ports[0]!;
  const before = await waitFor("every instance ready", async () => {
    const s = await status();
    return s.instances.every((i) => i.state === "ready") ? s : undefined;
  }, 30_000, { everyMs: 100 });
  const victim = before.instances.find((i) => i.port === victimPort)!;
  expect(victim.pid).toBeGreaterThan(0);

  const killedAt = performance.now();
  process.kill(victim.pid!, "SIGKILL");
  const after = await waitFor("the killed instance replaced and ready", async () => {
    const s = await status();
    const i = s.instances.find((x) => x.port === victimPort)!;
    return i.state === "ready" && i.pid !== victim.pid ? i : undefined;
  }, 15_000, { everyMs: 50 });
  console.log(`[timing] daemon: kill -9 → replacement ready in ${(performance.now() - killedAt).toFixed(0)} ms`);
  expect(after.restarts).toBe(1);

  const [first] = await discord.waitFor(1, 10_000).catch((err) => { console.log(sup.output().split("\n").filter((l) => !l.includes("\"msg\":\"request\"")).slice(-40).join("\n")); throw err; });
  const text = JSON.stringify(first!.body);
  expect(text).toContain(`Instance ${victimPort} restarted`);
  expect(first!.headers["user-agent"]).toContain("linkfort-supervisor");
  // Nothing else happened, so nothing else may arrive. A fixed window on purpose: it proves that a
  // late duplicate does NOT come; there is no condition to wait for.
  await Bun.sleep(1_000);
  const aboutVictim = discord.received.filter((r) => JSON.stringify(r.body).includes(`Instance ${victimPort}`));
  expect(aboutVictim.length, JSON.stringify(discord.received.map((r) => r.body))).toBe(1);

  process.kill(-sup.proc.pid, "SIGINT");
  expect(await sup.proc.exited).toBe(0);
}, 120_000);

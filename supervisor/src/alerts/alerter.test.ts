import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { VERSION } from "../../../service/src/lib/version.ts";
import { alert, alertRig, counterValue } from "../../test/alert-harness.ts";
import { createDiscordStandIn } from "../../test/discord-stand-in.ts";
import type { AlertService } from "./alerter.ts";

const discord = createDiscordStandIn();
const running: AlertService[] = [];
beforeAll(() => discord.start(), 30_000);
afterAll(() => discord.stop(), 30_000);
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop()));
  discord.reset();
}, 30_000);

function rig(overrides: Parameters<typeof alertRig>[0] = {}) {
  const r = alertRig({ webhookUrl: discord.url, ...overrides });
  running.push(r.alerter);
  return r;
}

describe("delivery", () => {
  test("posts one embed per alert with the User-Agent, and lists it as delivered", async () => {
    const t = Date.UTC(2025, 0, 2, 10, 15);
    const { alerter, metrics } = rig({ now: () => t });
    alerter.raise({ key: "instance-down:8082", severity: "critical", title: "Instance 8082 is down", detail: "3 probes failed" });
    await alerter.runOnce();

    expect(discord.received).toHaveLength(1);
    const req = discord.received[0]!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe(new URL(discord.url).pathname);
    expect(req.headers["user-agent"]).toBe(`linkfort-supervisor/${VERSION} (+self-hosted)`);
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.body).toEqual({
      username: "linkfort-supervisor",
      allowed_mentions: { parse: [] },
      embeds: [{
        title: "CRITICAL: Instance 8082 is down", description: "3 probes failed", color: 0xe74c3c,
        timestamp: "2025-01-02T10:15:00.000Z", footer: { text: "instance-down:8082" },
      }],
    });
    expect(alerter.snapshot()).toEqual({
      recent: [{ at: "2025-01-02T10:15:00.000Z", key: "instance-down:8082", severity: "critical", title: "Instance 8082 is down", resolved: false, delivered: true }],
      sent: 1, dropped: 0, queued: 0,
    });
    expect(await counterValue(metrics.alertsSent, { severity: "critical" })).toBe(1);
  });

  test("the loop delivers without runOnce, in the order raised", async () => {
    const { alerter } = rig();
    alerter.start();
    for (const key of ["a", "b", "c"]) alerter.raise(alert(key, "warning"));
    const got = await discord.waitFor(3, 5_000);
    expect(got.map((r) => (r.body as { embeds: { footer: { text: string } }[] }).embeds[0]!.footer.text)).toEqual(["a", "b", "c"]);
  });
});

describe("dedup and resolve", () => {
  test("the same key is sent once per window and again after it (injected clock)", async () => {
    let t = 1_000_000;
    const { alerter, metrics } = rig({ dedupMs: 60_000, now: () => t });
    alerter.raise(alert("db-unreachable"));
    alerter.raise(alert("db-unreachable"));
    t += 59_999;
    alerter.raise(alert("db-unreachable"));
    alerter.raise(alert("disk-low", "warning")); // another key is not held back
    await alerter.runOnce();
    expect(discord.received).toHaveLength(2);
    expect(await counterValue(metrics.alertsSuppressed)).toBe(2);

    t += 1; // the window since the first send has passed
    alerter.raise(alert("db-unreachable"));
    await alerter.runOnce();
    expect(discord.received).toHaveLength(3);
    expect(alerter.snapshot().recent.map((r) => r.key)).toEqual(["db-unreachable", "disk-low", "db-unreachable"]);
  });

  test("resolve sends one resolved message only for a raised key, and re-arms the key", async () => {
    const { alerter, metrics } = rig({ dedupMs: 60_000, now: () => Date.UTC(2025, 0, 2) });
    alerter.resolve("never-raised");
    alerter.raise(alert("instance-down:8081"));
    alerter.resolve("instance-down:8081", "ready again after 4 s");
    alerter.resolve("instance-down:8081");
    alerter.raise(alert("instance-down:8081")); // within the window, but resolved in between
    await alerter.runOnce();

    const embeds = discord.received.map((r) => (r.body as { embeds: { title: string; description: string; color: number }[] }).embeds[0]);
    expect(embeds).toEqual([
      expect.objectContaining({ title: "CRITICAL: instance-down:8081 happened", color: 0xe74c3c }),
      expect.objectContaining({ title: "Resolved: instance-down:8081 happened", description: "ready again after 4 s", color: 0x2ecc71 }),
      expect.objectContaining({ title: "CRITICAL: instance-down:8081 happened" }),
    ]);
    expect(alerter.snapshot().recent.map((r) => r.resolved)).toEqual([false, true, false]);
    expect(await counterValue(metrics.alertsSent, { severity: "resolved" })).toBe(1);
  });
});

describe("without a webhook", () => {
  test("alerts go to the log by severity, deduplicated and listed, nothing is sent", async () => {
    const { alerter, logs } = alertRig({ now: () => Date.UTC(2025, 0, 2) });
    alerter.start();
    alerter.raise(alert("all-down", "critical"));
    alerter.raise(alert("all-down", "critical"));
    alerter.raise(alert("backup-old", "warning"));
    alerter.resolve("backup-old");
    await alerter.runOnce();
    await alerter.stop();

    expect(logs.map((l) => [l.level, l.msg, l.key, l.suppressed])).toEqual([
      ["error", "alert raised", "all-down", false],
      ["error", "alert raised", "all-down", true],
      ["warn", "alert raised", "backup-old", false],
      ["info", "alert resolved", "backup-old", undefined],
    ]);
    expect(alerter.snapshot()).toMatchObject({ sent: 0, dropped: 0, queued: 0 });
    expect(alerter.snapshot().recent.map((r) => [r.key, r.resolved, r.delivered])).toEqual([
      ["backup-old", true, false], ["backup-old", false, false], ["all-down", false, false],
    ]);
    expect(discord.received).toHaveLength(0);
  });

  test("raise and resolve never throw, even when the logger does", () => {
    const { alerter } = alertRig({
      logger: { debug() {}, info() { throw new Error("stdout closed"); }, warn() { throw new Error("x"); }, error() { throw new Error("x"); }, child() { return this; } },
    });
    expect(() => alerter.raise(alert("a"))).not.toThrow();
    expect(() => alerter.resolve("a")).not.toThrow();
  });
});

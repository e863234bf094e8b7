/** How delivery survives a misbehaving webhook: 429, 5xx, 4xx, overflow and a server that hangs. */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { alert, alertRig, counterValue } from "../../test/alert-harness.ts";
import { createDiscordStandIn } from "../../test/discord-stand-in.ts";
import type { AlertService } from "./alerter.ts";
import { waitFor } from "../../../service/test/wait.ts";

const discord = createDiscordStandIn();
const running: AlertService[] = [];
beforeAll(() => discord.start(), 30_000);
afterAll(() => discord.stop(), 30_000);
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.stop()));
  discord.release();
  discord.reset();
}, 30_000);

function rig(overrides: Parameters<typeof alertRig>[0] = {}) {
  const r = alertRig({ webhookUrl: discord.url, ...overrides });
  running.push(r.alerter);
  return r;
}

const footer = (body: unknown) => (body as { embeds: { footer: { text: string } }[] }).embeds[0]!.footer.text;
/** Waits until the alerter has settled what the stand-in just answered (nothing queued). */
async function settled(alerter: AlertService): Promise<void> {
  await waitFor("the alerter to settle (nothing queued)", () => alerter.snapshot().queued === 0, 10_000, { everyMs: 10 });
}

// Timers never fire early, but Date.now() and the monotonic clock may disagree by a few ms.
const SLACK_MS = 25;

describe("rate limits and retries", () => {
  test("a 429 is honoured: nothing is sent before retry_after has passed", async () => {
    const { alerter } = rig();
    discord.failNext(429, 1, 0.4);
    alerter.start();
    alerter.raise(alert("a"));
    alerter.raise(alert("b"));
    const [first, retried, next] = await discord.waitFor(3, 5_000);
    expect(retried!.at - first!.at).toBeGreaterThanOrEqual(400 - SLACK_MS);
    expect([first, retried, next].map((r) => [footer(r!.body), r!.answer])).toEqual([["a", 429], ["a", 204], ["b", 204]]);
    await settled(alerter);
    expect(alerter.snapshot()).toMatchObject({ sent: 2, dropped: 0, queued: 0 });
  });

  test("a bucket announced empty (X-RateLimit-Remaining: 0) is waited out, so no 429 comes", async () => {
    const { alerter } = rig();
    discord.rateLimit(2, 0.4);
    alerter.start();
    for (const key of ["a", "b", "c", "d"]) alerter.raise(alert(key));
    const got = await discord.waitFor(4, 5_000);
    expect(got.map((r) => [footer(r.body), r.answer])).toEqual([["a", 204], ["b", 204], ["c", 204], ["d", 204]]);
    expect(got[2]!.at - got[0]!.at).toBeGreaterThanOrEqual(400 - SLACK_MS);
  });

  test("5xx is retried with growing pauses, then delivered", async () => {
    const { alerter, metrics } = rig({ retry: { maxAttempts: 4, baseMs: 100, maxMs: 1_000 } });
    discord.failNext(500, 2);
    alerter.start();
    alerter.raise(alert("a"));
    const got = await discord.waitFor(3, 5_000);
    expect(got.map((r) => r.answer)).toEqual([500, 500, 204]);
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(100 - SLACK_MS);
    expect(got[2]!.at - got[1]!.at).toBeGreaterThanOrEqual(200 - SLACK_MS);
    await settled(alerter);
    expect(alerter.snapshot()).toMatchObject({ sent: 1, dropped: 0, recent: [expect.objectContaining({ delivered: true })] });
    expect(await counterValue(metrics.alertsDropped, { reason: "failed" })).toBe(0);
  });

  test("a message failing every attempt is dropped and counted; the next one still goes", async () => {
    const { alerter, metrics, logs } = rig({ retry: { maxAttempts: 3, baseMs: 20, maxMs: 100 } });
    discord.failNext(503, 3);
    alerter.start();
    alerter.raise(alert("doomed"));
    alerter.raise(alert("fine"));
    const got = await discord.waitFor(4, 5_000);
    expect(got.map((r) => [footer(r.body), r.answer])).toEqual([["doomed", 503], ["doomed", 503], ["doomed", 503], ["fine", 204]]);
    await settled(alerter);
    expect(await counterValue(metrics.alertsDropped, { reason: "failed" })).toBe(1);
    expect(alerter.snapshot()).toMatchObject({ sent: 1, dropped: 1, queued: 0 });
    expect(logs.find((l) => l.msg === "alert dropped")).toMatchObject({ key: "doomed", reason: "failed" });
    // The webhook URL holds its token: no log line may contain it.
    expect(JSON.stringify(logs)).not.toContain("stand-in-token");
  });

  test("a 4xx other than 429 is not retried", async () => {
    const { alerter, metrics } = rig();
    discord.failNext(404, 1);
    alerter.raise(alert("gone"));
    alerter.raise(alert("next"));
    await alerter.runOnce();
    expect(discord.received.map((r) => [footer(r.body), r.answer])).toEqual([["gone", 404], ["next", 204]]);
    expect(await counterValue(metrics.alertsDropped, { reason: "failed" })).toBe(1);
  });

  test("a request past its timeout is retried", async () => {
    const { alerter } = rig({ requestTimeoutMs: 200, retry: { maxAttempts: 3, baseMs: 20, maxMs: 100 } });
    discord.failNext("hang", 1);
    alerter.start();
    alerter.raise(alert("slow"));
    const got = await discord.waitFor(2, 5_000);
    expect(got.map((r) => r.answer)).toEqual(["hang", 204]);
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(200 - SLACK_MS);
  });
});

describe("bounds", () => {
  test("past queueMax the oldest waiting alerts are dropped and counted", async () => {
    const { alerter, metrics } = rig({ queueMax: 3 });
    for (const key of ["k1", "k2", "k3", "k4", "k5"]) alerter.raise(alert(key));
    expect(alerter.snapshot()).toMatchObject({ queued: 3, dropped: 2 });
    expect(await counterValue(metrics.alertsDropped, { reason: "queue_full" })).toBe(2);
    await alerter.runOnce();
    expect(discord.received.map((r) => footer(r.body))).toEqual(["k3", "k4", "k5"]);
  });

  test("a webhook that never answers slows neither raise nor stop", async () => {
    const { alerter, logs } = rig({ requestTimeoutMs: 60_000, stopGraceMs: 300 });
    discord.failNext("hang", 1_000);
    alerter.start();
    alerter.raise(alert("first"));
    await discord.waitFor(1, 5_000); // now a request is stuck in flight

    const started = performance.now();
    for (let i = 0; i < 1_000; i++) alerter.raise(alert(`key-${i}`));
    const raiseMs = performance.now() - started;
    expect(raiseMs).toBeLessThan(1_000); // ~1 ms when healthy; a blocking raise would take 60 s
    expect(alerter.snapshot().queued).toBe(101); // queueMax waiting plus the one in flight

    const stopStarted = performance.now();
    await alerter.stop();
    expect(performance.now() - stopStarted).toBeLessThan(3_000); // stopGraceMs plus slack
    // The aborted one is back in line with the rest: all reported, none lost silently.
    expect(alerter.snapshot().queued).toBe(101);
    expect(logs.find((l) => l.msg === "alerts not delivered at stop")).toMatchObject({ count: 101 });
    expect(() => alerter.raise(alert("after-stop"))).not.toThrow();
  });
});

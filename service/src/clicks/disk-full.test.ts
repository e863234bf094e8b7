import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { rootPrefix } from "../../test/tools.ts";

// The spool on a filesystem of its own that the test fills up: a 1 MiB tmpfs, mounted as root
// (or through password-free sudo) and owned by the user running the tests.
let mnt: string;
let h: TestApp;

async function run(...cmd: string[]): Promise<void> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  if ((await proc.exited) !== 0) throw new Error(`${cmd.join(" ")}: ${await new Response(proc.stderr).text()}`);
}

beforeAll(async () => {
  const asRoot = rootPrefix("mounting a small tmpfs");
  mnt = mkdtempSync(join(tmpdir(), "linkfort-full-"));
  await run(...asRoot, "mount", "-t", "tmpfs", "-o", `size=1m,mode=0700,uid=${process.getuid!()},gid=${process.getgid!()}`, "tmpfs", mnt);
  h = await testApp({ clickSpoolDir: mnt, clickSegmentBytes: 16_384 });
}, 30_000);
afterAll(async () => {
  await h?.close();
  await run(...rootPrefix("unmounting the tmpfs"), "umount", mnt).catch(() => {});
  rmSync(mnt, { recursive: true, force: true });
}, 30_000);

const counter = async (name: "clicksSpooled" | "clicksDropped" | "clicksRecorded", reason?: string) =>
  (await h.deps.metrics[name].get()).values.filter((v) => reason === undefined || v.labels.reason === reason).reduce((n, v) => n + v.value, 0);

/** Fills the filesystem: whatever fits of a buffer larger than it. */
function fill(path: string): void {
  try { writeFileSync(path, Buffer.alloc(2 * 1024 * 1024, 1)); } catch (error) { expect((error as { code?: string }).code).toBe("ENOSPC"); }
}

describe("the spool's disk is full", () => {
  test("every redirect still answers 302, every click not kept is counted, and writes resume once there is room", async () => {
    const userId = (await h.request("POST", "/users", { body: { username: "full", email: "full@example.com" } })).json.id;
    const url = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://full.example/" } })).json;
    const redirects = async (n: number) => {
      const statuses = await Promise.all(Array.from({ length: n }, async () => (await h.request("GET", `/${url.short_code}`, { key: null })).status));
      expect(statuses.filter((s) => s !== 302)).toEqual([]);
    };
    await redirects(20);
    const filler = join(mnt, "filler");
    fill(filler);
    await redirects(300);
    const droppedFull = await counter("clicksDropped", "disk_full");
    expect(droppedFull).toBeGreaterThan(0);

    unlinkSync(filler);
    await Bun.sleep(1_100); // the writer tries the disk again a second after a failure
    await redirects(50);
    await h.deps.clicks.flushNow();

    const recorded = await counter("clicksRecorded");
    const spooled = await counter("clicksSpooled");
    expect(recorded).toBe(370);
    expect(spooled + (await counter("clicksDropped", "disk_full"))).toBe(recorded);
    const clicked = (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from events where event_type = 'clicked'`)[0]!.n;
    expect(clicked).toBe(spooled);
    expect(spooled).toBeGreaterThanOrEqual(70); // the ones before the disk filled and after it had room
    const health = await h.request("GET", "/health", { key: null });
    expect(health.json.click_spool, show(health)).toMatchObject({ unshipped_clicks: 0, oldest_unshipped_age_seconds: 0 });
  }, 60_000);
});

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../lib/logger.ts";
import { createMetrics, type Metrics } from "../metrics.ts";
import type { Click } from "./model.ts";
import { ensureSpoolId, listSegments } from "./spool-dir.ts";
import { countLines, oldestUnshipped, readBatch } from "./spool-reader.ts";
import { createSpoolWriter } from "./spool-writer.ts";

let dir: string;
let metrics: Metrics;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), "spool-test-")); metrics = createMetrics(); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const click = (n: number, extra: Partial<Click> = {}): Click =>
  ({ id: `0190${String(n).padStart(4, "0")}-0000-7000-8000-000000000000`, urlId: n, shortCode: `c${n}`, at: new Date(1_700_000_000_000 + n), ...extra });

function writer(opts: { segmentBytes?: number; maxBytes?: number; sync?: boolean } = {}) {
  const w = createSpoolWriter({
    dir, spoolId: ensureSpoolId(dir), metrics, logger: silentLogger,
    sync: opts.sync ?? false, segmentBytes: opts.segmentBytes ?? 1 << 20, maxBytes: opts.maxBytes ?? 1 << 30,
  });
  w.open();
  return w;
}

const dropped = async (reason: string) => (await metrics.clicksDropped.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

describe("click spool", () => {
  test("the clicks of one turn go out in one write, resolve together, and read back whole", async () => {
    const w = writer();
    const done = [w.append(click(1, { referrer: "https://r.example/", userAgent: "ua", clientIp: "10.0.0.1" })), w.append(click(2)), w.append(click(3))];
    expect(done[0]).toBe(done[2]!); // one promise per write
    await Promise.all(done);
    const [seg] = listSegments(dir);
    const text = readFileSync(seg!.path, "utf8").split("\n");
    expect(JSON.parse(text[0]!)).toMatchObject({ format: "linkfort-click-spool", version: 1, segment: 1 });
    expect(text.length).toBe(5); // header, three clicks, and the empty string after the last "\n"
    const read = await readBatch(dir, { segment: 0, offset: 0 }, 100);
    expect(read.clicks).toEqual([click(1, { referrer: "https://r.example/", userAgent: "ua", clientIp: "10.0.0.1" }), click(2), click(3)]);
    expect(read).toMatchObject({ unreadable: 0, caughtUp: true, next: { segment: 1, offset: seg!.bytes } });
    expect(await oldestUnshipped(dir, { segment: 0, offset: 0 })).toEqual(click(1).at);
    expect(await oldestUnshipped(dir, read.next)).toBeUndefined();
  });

  test("a batch stops at max lines, and the next read goes on from its position", async () => {
    const w = writer();
    await Promise.all([1, 2, 3, 4, 5].map((n) => w.append(click(n))));
    const first = await readBatch(dir, { segment: 1, offset: 0 }, 2);
    expect(first.clicks.map((c) => c.urlId)).toEqual([1, 2]);
    expect(first.caughtUp).toBe(false);
    const rest = await readBatch(dir, first.next, 10);
    expect(rest.clicks.map((c) => c.urlId)).toEqual([3, 4, 5]);
    expect(await countLines(dir, first.next)).toBe(3);
  });

  test("segments rotate by size, and a reader moves to the next one only once it exists", async () => {
    const w = writer({ segmentBytes: 1_024 });
    for (let n = 1; n <= 100; n++) await w.append(click(n));
    const segments = listSegments(dir);
    expect(segments.length).toBeGreaterThan(2);
    const seen: number[] = [];
    let at = { segment: 0, offset: 0 };
    for (let i = 0; i < 200; i++) {
      const read = await readBatch(dir, at, 7);
      seen.push(...read.clicks.map((c) => c.urlId));
      at = read.next;
      if (read.caughtUp) break;
    }
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(await countLines(dir, { segment: 0, offset: 0 })).toBe(100);
  });

  test("a last line cut short by a crash is never read; the next process starts a segment of its own", async () => {
    const w = writer();
    await Promise.all([w.append(click(1)), w.append(click(2))]);
    const [seg] = listSegments(dir);
    appendFileSync(seg!.path, '["0190-cut-short",3,"c3",17'); // the crash: no "\n"
    const before = await readBatch(dir, { segment: 1, offset: 0 }, 100);
    expect(before.clicks.map((c) => c.urlId)).toEqual([1, 2]);
    expect(before.caughtUp).toBe(true);

    const again = writer(); // the restarted process
    await again.append(click(4));
    expect(listSegments(dir).map((s) => s.n)).toEqual([1, 2]);
    expect(readFileSync(seg!.path, "utf8").endsWith("17")).toBe(true); // nothing appended to the old one
    const after = await readBatch(dir, before.next, 100);
    expect(after.clicks.map((c) => c.urlId)).toEqual([4]);
    expect(after.next.segment).toBe(2);
  });

  test("a complete line that is no click is counted unreadable and stepped over", async () => {
    const w = writer();
    await w.append(click(1));
    appendFileSync(listSegments(dir)[0]!.path, "not json\n");
    await w.append(click(2));
    const read = await readBatch(dir, { segment: 1, offset: 0 }, 100);
    expect(read.clicks.map((c) => c.urlId)).toEqual([1, 2]);
    expect(read.unreadable).toBe(1);
  });

  test("a segment of another format version stops the reader with a reason", async () => {
    writeFileSync(join(dir, "0000000000000001.seg"), '{"format":"linkfort-click-spool","version":2}\n["x"]\n');
    writer();
    const read = await readBatch(dir, { segment: 0, offset: 0 }, 100);
    expect(read.problem).toContain("format version 2; this linkfort reads version 1");
    expect(read.clicks).toEqual([]);
  });

  test("past CLICK_SPOOL_MAX_BYTES clicks are dropped and counted, and append still resolves", async () => {
    const w = writer({ maxBytes: 600 });
    for (let n = 1; n <= 10; n++) await w.append(click(n));
    const kept = await countLines(dir, { segment: 0, offset: 0 });
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(10);
    expect(await dropped("spool_full")).toBe(10 - kept);
    expect(w.bytes()).toBeLessThanOrEqual(600);
  });

  test("CLICK_SYNC=batch resolves after the fdatasync and gathers clicks that came meanwhile", async () => {
    const w = writer({ sync: true });
    const all = [];
    for (let n = 1; n <= 50; n++) { all.push(w.append(click(n))); if (n % 10 === 0) await Bun.sleep(0); }
    await Promise.all(all);
    expect(await countLines(dir, { segment: 0, offset: 0 })).toBe(50);
    await w.close();
    expect(await w.append(click(51))).toBe(false);
    expect(await dropped("stopped")).toBe(1);
  });

  test("the spool id is made once and kept", () => {
    const id = ensureSpoolId(dir);
    expect(ensureSpoolId(dir)).toBe(id);
    expect(readdirSync(dir)).toContain("spool-id");
  });
});

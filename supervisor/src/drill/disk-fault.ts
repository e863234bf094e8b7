/**
 * @module The disk-full drill: the filesystem that holds the instances' click spools filled to the
 * last block with a ballast file, held, then the ballast removed. A real ENOSPC, nothing simulated:
 * the instances must keep answering redirects and count each click they cannot keep
 * (linkfort_clicks_dropped_total{reason="disk_full"}), and the supervisor, reading that counter,
 * must raise its clicks-dropped alert while the disk is full and resolve it after. The disk stays
 * full past the hold until that alert is up (at most two scrapes more), so a hold shorter than
 * CONSOLE_SCRAPE_MS still tests the alert.
 *
 * Bounded: it refuses a filesystem with more than FILL_LIMIT_BYTES free, so a drill pointed at a
 * big volume cannot fill a production disk; give the spools a small filesystem of their own
 * (CLICK_SPOOL_DIR on a tmpfs or a loop device) to drill it.
 */
import { existsSync, readdirSync, statSync, statfsSync, unlinkSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { waitForAlertUp } from "./alert-check.ts";
import { readStatus, type Stack } from "./stack.ts";

/** The most free space the drill fills: more means a real volume, not a test filesystem. */
export const FILL_LIMIT_BYTES = 2 * 1024 ** 3;
const CHUNK_BYTES = 1024 * 1024;
const BALLAST = "drill-disk-full.ballast";

/** The supervisor's alert for clicks an instance could not keep on a full disk (watch/clicks-dropped.ts). */
export const CLICKS_DROPPED_DISK_FULL = /^clicks-dropped:\d+:disk_full$/;
/** Readings take up to a scrape to notice a drop, and the alert resolves a quiet period after the last one. */
const raiseWithinMs = (stack: Stack) => 2 * stack.scrapeMs + 3_000;
export const clicksDroppedResolveWithinMs = (stack: Stack) => stack.clicksDroppedQuietMs + 2 * stack.scrapeMs + 5_000;

/** Free bytes on the filesystem of `path` as root sees them (root may use the blocks reserved for it). */
export const freeBytes = (path: string) => { const s = statfsSync(path); return s.bfree * s.bsize; };

/** The first of the stack's spool roots that holds an instance's spool (a `<port>/spool-id`), or null. */
export function spoolRootOf(stack: Stack): string | null {
  const holdsSpool = (root: string) => {
    try { return readdirSync(root).some((d) => /^\d+$/.test(d) && existsSync(join(root, d, "spool-id"))); } catch { return false; }
  };
  return stack.spoolRoots.find(holdsSpool) ?? null;
}

/** Why this filesystem may not be filled, or null. */
export function refusal(root: string): string | null {
  const free = freeBytes(root);
  if (free > FILL_LIMIT_BYTES) {
    return `the spools' filesystem (${root}) has ${(free / 1024 ** 3).toFixed(1)} GiB free, more than the drill fills (2 GiB): put CLICK_SPOOL_DIR on a small filesystem of its own to drill a full disk`;
  }
  return null;
}

/**
 * Writes the ballast until the filesystem refuses (ENOSPC), at most the limit plus a chunk; returns
 * the bytes written. Asynchronous writes: the drill's own load runs in this process, and a blocked
 * event loop would show up as the stack's latency.
 */
async function fill(path: string): Promise<number> {
  const file = await open(path, "wx", 0o600);
  const chunk = Buffer.alloc(CHUNK_BYTES, 0x5a);
  let written = 0;
  try {
    // Big chunks first, then ever smaller ones, so the last few blocks are taken too.
    for (let size = CHUNK_BYTES; size >= 512; size /= 8) {
      while (written <= FILL_LIMIT_BYTES) {
        try { written += (await file.write(chunk, 0, size)).bytesWritten; } catch (error) {
          if ((error as { code?: string }).code !== "ENOSPC") throw error;
          break;
        }
      }
    }
  } finally {
    await file.close();
  }
  return written;
}

/** Fills the spools' filesystem, holds it full for `holdMs`, removes the ballast (also on failure). */
export async function fillSpoolDisk(stack: Stack, holdMs: number): Promise<string> {
  const root = spoolRootOf(stack);
  if (!root) throw new Error(`no instance's click spool under ${stack.spoolRoots.join(" or ")}`);
  const why = refusal(root);
  if (why) throw new Error(why);
  const ballast = join(root, BALLAST);
  const sharesPostgres = stack.embeddedPgDir !== null && existsSync(stack.embeddedPgDir) && statSync(stack.embeddedPgDir).dev === statSync(root).dev;
  let written = 0;
  try {
    const began = performance.now();
    written = await fill(ballast);
    const fillMs = Math.round(performance.now() - began);
    const left = freeBytes(root);
    await Bun.sleep(holdMs);
    const alertWaitMs = await waitForAlertUp(stack, CLICKS_DROPPED_DISK_FULL, raiseWithinMs(stack));
    const held = Math.round(performance.now() - began) - fillMs;
    return `ballast of ${(written / 1024 ** 2).toFixed(1)} MiB filled the spools' filesystem (${root}; ${left} bytes left) for ${held} ms, then removed (filling took ${fillMs} ms); `
      + (alertWaitMs === null ? `no clicks-dropped alert up within ${raiseWithinMs(stack)} ms after the ${holdMs} ms hold` : `clicks-dropped alert up ${alertWaitMs} ms after the ${holdMs} ms hold`)
      + (sharesPostgres ? "; PostgreSQL's data directory is on the same filesystem" : "");
  } finally {
    try { unlinkSync(ballast); } catch { /* not made */ }
  }
}

/** linkfort_clicks_dropped_total{reason} summed over the running instances (their /metrics). */
export async function droppedClicks(stack: Stack, reason: string): Promise<number> {
  const status = await readStatus(stack);
  if (!status) throw new Error(`the supervisor's status port does not answer (${stack.statusUrl})`);
  const pattern = new RegExp(`^linkfort_clicks_dropped_total\\{[^}]*reason="${reason}"[^}]*\\} (\\d+(?:\\.\\d+)?)$`, "m");
  const values = await Promise.all(status.instances.map(async (i) => {
    const res = await fetch(stack.instanceUrl(i.port, "/metrics"), { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) throw new Error(`${i.port}/metrics answered ${res.status}`);
    return Number(pattern.exec(await res.text())?.[1] ?? 0);
  }));
  return values.reduce((a, b) => a + b, 0);
}

/**
 * @module Resident memory of a process, read from /proc/PID/status (Linux). Long-running Bun
 * servers are known to grow; the watcher replaces an instance whose RSS passes the limit.
 */

/** VmRSS in bytes, or null when the process is gone or /proc has no such line. */
export async function readRssBytes(pid: number): Promise<number | null> {
  try {
    const text = await Bun.file(`/proc/${pid}/status`).text();
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

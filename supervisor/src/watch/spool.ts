/**
 * @module An instance's click spool backlog alone, for the drill's "every spool drained" check;
 * the watcher reads it together with the version (health.ts).
 */
import type { SpoolSnapshot } from "../status/snapshot.ts";
import { readInstanceHealth } from "./health.ts";

export async function readSpoolBacklog(healthUrl: string, timeoutMs: number): Promise<SpoolSnapshot | null> {
  return (await readInstanceHealth(healthUrl, timeoutMs)).spool;
}

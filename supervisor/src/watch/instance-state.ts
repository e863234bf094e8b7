/**
 * @module What the watcher knows about one instance: consecutive probe results, whether it is
 * down, its start grace, and its recent restarts (for crash-loop backoff and flapping). Like
 * Caddy's hosts.go, every update reports whether a condition flipped; alerts and actions fire
 * only on a flip. Pure: the clock is an argument, so tests drive it without processes.
 */
import type { InstanceSnapshot, InstanceStatus } from "../status/snapshot.ts";
import { UNKNOWN_HEALTH, type InstanceHealth } from "./health.ts";
import type { ProbeResult } from "./probe.ts";

export interface StatePolicy {
  /** Failed probes in a row before the instance is down (FAIL_THRESHOLD). */
  failThreshold: number;
  /** After a (re)start, failures do not count for this long (ms). */
  startGraceMs: number;
  /** First delay between unplanned restarts, doubled each time (ms). */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** This many unplanned restarts within flapWindowMs is flapping. */
  flapRestarts: number;
  flapWindowMs: number;
}

/** crashed/unhealthy are unplanned (they count for backoff and flapping); memory/rolling are planned. */
export type RestartReason = "crashed" | "unhealthy" | "memory" | "rolling";

export interface Flip {
  condition: "down" | "flapping";
  /** true: the condition started; false: it cleared. */
  now: boolean;
}

export class InstanceState {
  phase: InstanceStatus = "starting";
  healthy = false;
  down = false;
  flapping = false;
  consecutiveFailures = 0;
  restarts = 0;
  lastError: string | null = null;
  lastProbeMs: number | null = null;
  pid: number | null = null;
  startedAt: number | null = null;
  rssBytes: number | null = null;
  /** Its click spool and release, from its /health; unknown while it is not ready. */
  health: InstanceHealth = UNKNOWN_HEALTH;
  /** When /health was last read (ms); the watcher reads it every few rounds only. */
  healthReadAt = -Infinity;
  /** A rolling restart owns the instance: the watcher neither counts its probes nor restarts it. */
  paused = false;
  private graceUntil: number;
  private unplanned: number[] = [];

  constructor(readonly port: number, private readonly policy: StatePolicy, now: number) {
    this.graceUntil = now + policy.startGraceMs;
  }

  inGrace(now: number): boolean {
    return this.phase === "starting" && now < this.graceUntil;
  }

  /** A new process runs: it gets the start grace, and old failures no longer count. */
  started(now: number): void {
    this.phase = "starting";
    this.healthy = false;
    this.consecutiveFailures = 0;
    this.graceUntil = now + this.policy.startGraceMs;
    // A new process may run another release: read its /health at its first ready probe.
    this.healthReadAt = -Infinity;
  }

  probed(result: ProbeResult, now: number): Flip[] {
    this.lastProbeMs = result.ms;
    if (result.ok) return this.passed(now);
    // Failures inside the grace are expected (migrations, a slow start) and do not count.
    if (this.inGrace(now)) return [];
    this.lastError = result.error;
    this.consecutiveFailures++;
    if (this.consecutiveFailures < this.policy.failThreshold) return [];
    this.healthy = false;
    this.phase = "unhealthy";
    return this.setDown(true);
  }

  /** The process exited on its own: down at once, no need to wait for K probes. */
  exited(detail: string): Flip[] {
    this.healthy = false;
    this.phase = "backoff";
    this.lastError = detail;
    this.pid = null;
    this.startedAt = null;
    return this.setDown(true);
  }

  /** How long to wait before the next unplanned restart: 0 the first time in the window, then doubling. */
  restartDelay(now: number): number {
    const recent = this.recentUnplanned(now);
    if (recent === 0) return 0;
    return Math.min(this.policy.backoffMaxMs, this.policy.backoffBaseMs * 2 ** (recent - 1));
  }

  /** The supervisor is restarting it now; returns the flapping flip if this restart caused one. */
  restarting(reason: RestartReason, now: number): Flip[] {
    this.phase = "restarting";
    this.healthy = false;
    this.restarts++;
    if (reason !== "crashed" && reason !== "unhealthy") return [];
    this.unplanned.push(now);
    if (!this.flapping && this.recentUnplanned(now) >= this.policy.flapRestarts) {
      this.flapping = true;
      return [{ condition: "flapping", now: true }];
    }
    return [];
  }

  snapshot(now: number): InstanceSnapshot {
    return {
      port: this.port,
      state: this.paused ? "restarting" : this.phase,
      pid: this.pid,
      uptime_seconds: this.startedAt === null ? null : Math.max(0, Math.round((now - this.startedAt) / 1000)),
      restarts: this.restarts,
      consecutive_failures: this.consecutiveFailures,
      last_error: this.lastError,
      last_probe_ms: this.lastProbeMs,
      rss_bytes: this.rssBytes,
      spool: this.health.spool,
      version: this.health.version,
    };
  }

  private passed(now: number): Flip[] {
    this.consecutiveFailures = 0;
    this.healthy = true;
    this.phase = "ready";
    this.graceUntil = 0;
    const flips = this.setDown(false);
    // Flapping clears once the instance is up and its unplanned restarts have left the window.
    if (this.flapping && this.recentUnplanned(now) < this.policy.flapRestarts) {
      this.flapping = false;
      flips.push({ condition: "flapping", now: false });
    }
    return flips;
  }

  private setDown(down: boolean): Flip[] {
    if (this.down === down) return [];
    this.down = down;
    return [{ condition: "down", now: down }];
  }

  private recentUnplanned(now: number): number {
    this.unplanned = this.unplanned.filter((t) => now - t < this.policy.flapWindowMs);
    return this.unplanned.length;
  }
}

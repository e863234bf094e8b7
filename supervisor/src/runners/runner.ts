/**
 * @module How the supervisor starts, stops and inspects linkfort instances, one per port.
 * Two implementations, so an interface: `process` spawns the instances itself (quick start,
 * tests) and `systemd` drives `linkfort@PORT` units (VMs). The watcher and the rolling restart
 * see only this interface.
 */

export interface InstanceInfo {
  port: number;
  active: boolean;
  pid: number | null;
  /** Unix ms when the current process (or unit) started; null when not running. */
  startedAt: number | null;
  /**
   * Crashes the service manager restarted by itself since the previous status() of this port
   * (systemd's Restart=always). The instance runs again: the watcher reports them and leaves
   * it alone. Never set by the process runner, whose exits go through onUnexpectedExit.
   */
  handledCrashes?: HandledCrashes;
}

export interface HandledCrashes {
  /** Usually 1; more when several crash-restarts happened between two readings. */
  count: number;
  /** How the last one ended, e.g. "killed by SIGKILL; systemd restarted it". */
  detail: string;
}

export interface RestartOptions {
  /**
   * Kill at once instead of draining (default false). For an instance that failed its probes:
   * the load balancer has already dropped it, and a hung (SIGSTOPped) process could not run
   * its drain anyway.
   */
  force?: boolean;
}

export interface ExitEvent {
  port: number;
  pid: number;
  code: number | null;
  signal: string | null;
}

export interface Runner {
  readonly kind: "process" | "systemd";
  /** Starts the instance; does nothing when it already runs. */
  start(port: number): Promise<void>;
  /** Stops it gracefully (SIGTERM: the instance drains), killing it after a timeout. */
  stop(port: number): Promise<void>;
  /** Stop, then start. Resolves once the new process runs, not once it is ready. */
  restart(port: number, opts?: RestartOptions): Promise<void>;
  isActive(port: number): Promise<boolean>;
  pid(port: number): Promise<number | null>;
  status(port: number): Promise<InstanceInfo>;
  /**
   * Instances that exited without being asked to. The process runner reports each exit so the
   * watcher can respawn it (as systemd's Restart=always would); under systemd, systemd restarts
   * crashed units itself, this never fires and status() reports them (handledCrashes) instead.
   * Returns the unsubscribe function.
   */
  onUnexpectedExit(listener: (event: ExitEvent) => void): () => void;
  /**
   * The supervisor is stopping. The process runner stops its instances (they must not outlive
   * it); the systemd runner leaves the units running, because systemd owns them.
   */
  close(): Promise<void>;
}

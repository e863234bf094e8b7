/**
 * @module The CLI side of the status server: `status` prints GET /status as tables,
 * `rolling-restart` calls POST /rolling-restart with the daemon's control token and prints its result.
 */
import type { SupervisorConfig } from "./config.ts";
import { controlTokenPath, readControlToken } from "./status/control-token.ts";
import type { StatusSnapshot } from "./status/snapshot.ts";
import { formatStatusTable } from "./status/table.ts";

type Out = (line: string) => void;

const base = (config: SupervisorConfig) => `http://${config.statusHost.includes(":") ? `[${config.statusHost}]` : config.statusHost}:${config.statusPort}`;

function unreachable(config: SupervisorConfig, error: unknown): string {
  return `cannot reach the supervisor at ${base(config)} (is it running? STATUS_HOST/STATUS_PORT): ${error instanceof Error ? error.message : String(error)}`;
}

export async function printStatus(config: SupervisorConfig, out: Out): Promise<number> {
  try {
    const res = await fetch(`${base(config)}/status`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) { out(`status failed: ${res.status} ${await res.text()}`); return 1; }
    out(formatStatusTable((await res.json()) as StatusSnapshot));
    return 0;
  } catch (error) {
    out(unreachable(config, error));
    return 1;
  }
}

export async function requestRollingRestart(config: SupervisorConfig, out: Out): Promise<number> {
  const token = await readControlToken(controlTokenPath(config));
  if (!token.ok) { out(token.error); return 1; }
  out(`rolling restart of ${config.ports.length} instances, one at a time…`);
  try {
    // No client timeout: each instance drains, restarts and must become ready; the server bounds it.
    const res = await fetch(`${base(config)}/rolling-restart`, { method: "POST", headers: { Authorization: `Bearer ${token.token}` } });
    const body = (await res.json().catch(() => ({}))) as { ok?: boolean; detail?: string; message?: string };
    out(`${body.ok ? "done" : "FAILED"}: ${body.detail ?? body.message ?? `HTTP ${res.status}`}`);
    return body.ok ? 0 : 1;
  } catch (error) {
    out(unreachable(config, error));
    return 1;
  }
}

/**
 * @module What the VM test asks the guest: HTTP through its Caddy (curl inside the guest, whose
 * loopback is its own), and a snapshot of everything install.sh manages, to prove a re-run is a no-op.
 */
import type { Bed } from "./vm-bed.ts";

export interface GuestResponse {
  status: number;
  headers: Headers;
  body: string;
  json: unknown;
  /** The whole answer, for failure messages. */
  raw: string;
}

/** One request to Caddy on the guest's 127.0.0.1:8080 (redirects not followed). */
export async function guestHttp(bed: Bed, method: string, path: string, opts: { key?: string; body?: unknown } = {}): Promise<GuestResponse> {
  const args = ["curl", "-s", "-i", "--max-time", "10", "-X", method];
  if (opts.key) args.push("-H", `'Authorization: Bearer ${opts.key}'`);
  // Test data only: single quotes never appear in it, so it needs no other escaping.
  if (opts.body !== undefined) args.push("-H", "'content-type: application/json'", "--data", `'${JSON.stringify(opts.body)}'`);
  args.push(`'http://127.0.0.1:8080${path}'`);
  const raw = await bed.sh(args.join(" "));
  const split = raw.indexOf("\r\n\r\n");
  const head = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? "" : raw.slice(split + 4);
  const [statusLine, ...headerLines] = head.split("\r\n");
  const headers = new Headers();
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let json: unknown = undefined;
  try { json = JSON.parse(body); } catch { /* not JSON: the caller asserts on body */ }
  return { status: Number(statusLine?.split(" ")[1] ?? 0), headers, body, json, raw };
}

/**
 * Units (main PID, restart count, when they became active), every file install.sh writes (path,
 * mode, owner, mtime, sha256), the symlinks, and the database role's password hash.
 */
const SNAPSHOT_SCRIPT = `
set -euo pipefail
for u in $(systemctl list-units --plain --no-legend 'linkfort*' caddy.service redis-server.service 'postgresql@*' 'prometheus*' | awk '{print $1}'); do
  echo "unit $u $(systemctl show -P MainPID "$u") $(systemctl show -P NRestarts "$u") $(systemctl show -P ActiveEnterTimestampMonotonic "$u")"
done
paths="/etc/linkfort /etc/caddy /opt/linkfort /usr/local/bin /etc/systemd/system/caddy.service.d"
# A VM without monitoring has no /etc/prometheus: ls then exits 2, which is no error here.
paths="$paths $(ls -d /etc/systemd/system/linkfort* /etc/prometheus 2>/dev/null | tr '\\n' ' ' || true)"
find $paths -type f -exec stat -c '%n %a %U %Y' {} + | sort
find $paths -type f -exec sha256sum {} + | sort
find $paths -type l -printf '%p -> %l\\n' | sort
runuser -u postgres -- psql -X -Atc "select rolname, rolpassword from pg_authid where rolname = 'linkfort'"
`;

export async function snapshotDeployment(bed: Bed): Promise<string[]> {
  return (await bed.sh(SNAPSHOT_SCRIPT)).split("\n");
}

/** The supervisor's restarts of one instance, by reason, from its /metrics on the guest's 127.0.0.1:9100. */
export async function supervisorRestarts(bed: Bed, port: number): Promise<Record<string, number>> {
  const metrics = await bed.sh("curl -s --max-time 5 http://127.0.0.1:9100/metrics");
  const counts: Record<string, number> = {};
  const line = new RegExp(`^linkfort_supervisor_instance_restarts_total\\{port="${port}",reason="(\\w+)"\\} (\\d+)`, "gm");
  for (const [, reason, count] of metrics.matchAll(line)) counts[reason!] = Number(count);
  return counts;
}

export interface SupervisorView {
  instances: { port: number; state: string; restarts: number; last_error: string | null }[];
  alerts: { recent: { key: string; title: string; resolved: boolean }[] };
}

/** The supervisor's GET /status on the guest's 127.0.0.1:9100. */
export async function supervisorStatus(bed: Bed): Promise<SupervisorView> {
  return JSON.parse(await bed.sh("curl -s --max-time 5 http://127.0.0.1:9100/status")) as SupervisorView;
}

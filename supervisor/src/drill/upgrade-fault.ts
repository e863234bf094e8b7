/**
 * @module The instance-upgrade drill: a deploy of the build that runs now, through the path a new
 * release takes (deploy/upgrade.sh after its migrations): the supervisor's POST /rolling-restart
 * with its control token (what `linkfort-supervisor rolling-restart` sends), each instance drained,
 * replaced and ready before the next, every instance then checked to be a new process that
 * reports the version it had. Under systemd the supervisor is restarted last, as upgrade.sh does,
 * and must report the same version (unless the drill runs inside it, from the console); in the
 * quick start it is the stack's parent and stays.
 * The migrations need no step of their own: each instance applies what is missing as it starts.
 */
import { readControlToken } from "../status/control-token.ts";
import { unitOf, pidListeningOn } from "./pids.ts";
import { pollUntil, readStatus, type Stack } from "./stack.ts";

const SUPERVISOR_UNIT = "linkfort-supervisor.service";
/** How long after the rolling restart answered every instance must show as a new process on the same version (ms). */
const REPLACED_WITHIN_MS = 10_000;

/** The version an instance reports on its /health, or null when it does not answer. */
async function instanceVersion(stack: Stack, port: number): Promise<string | null> {
  try {
    const res = await fetch(stack.instanceUrl(port, "/health"), { signal: AbortSignal.timeout(2_000) });
    return ((await res.json()) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

async function fleet(stack: Stack): Promise<{ version: string; instances: { port: number; pid: number | null; version: string | null }[] }> {
  const status = await readStatus(stack);
  if (!status) throw new Error(`the supervisor's status port does not answer (${stack.statusUrl})`);
  const instances = await Promise.all(status.instances.map(async (i) => ({ port: i.port, pid: i.pid, version: await instanceVersion(stack, i.port) })));
  return { version: status.version, instances };
}

async function restartSupervisorUnit(stack: Stack, version: string): Promise<string> {
  const statusPort = Number(new URL(stack.statusUrl).port);
  const before = pidListeningOn(statusPort);
  const restart = Bun.spawnSync(["systemctl", "restart", SUPERVISOR_UNIT], { stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  if (restart.exitCode !== 0) throw new Error(`systemctl restart ${SUPERVISOR_UNIT} failed: ${restart.stderr.toString().trim()}`);
  const back = await pollUntil(async () => {
    const now = pidListeningOn(statusPort);
    return now !== null && now !== before && (await readStatus(stack))?.version === version;
  }, 60_000, 200);
  if (back === null) throw new Error(`the supervisor did not answer on ${stack.statusUrl} with version ${version} within 60 s of its restart`);
  return `; ${SUPERVISOR_UNIT} restarted last and reports ${version}`;
}

/** Deploys the running build again; resolves with a note, or throws when a step failed or an instance was not replaced. */
export async function upgradeToSameVersion(stack: Stack): Promise<string> {
  const before = await fleet(stack);
  const versions = new Set(before.instances.map((i) => i.version));
  if (versions.size !== 1 || versions.has(null)) throw new Error(`the instances do not all report one version: ${before.instances.map((i) => `${i.port}=${i.version ?? "no answer"}`).join(", ")}`);
  const version = before.instances[0]!.version!;
  const token = await readControlToken(stack.controlTokenFile);
  if (!token.ok) throw new Error(token.error);
  const res = await fetch(`${stack.statusUrl}/rolling-restart`, {
    method: "POST", headers: { authorization: `Bearer ${token.token}` }, signal: AbortSignal.timeout(180_000),
  });
  const body = (await res.json().catch(() => ({}))) as { ok?: boolean; detail?: string };
  if (!body.ok) throw new Error(`the rolling restart of the deploy failed: ${body.detail ?? `HTTP ${res.status}`}`);
  const supervisorPid = pidListeningOn(Number(new URL(stack.statusUrl).port));
  const underSystemd = supervisorPid !== null && unitOf(supervisorPid) === SUPERVISOR_UNIT;
  // From the console the drill runs inside the supervisor: restarting it would end the drill.
  const supervisorNote = !underSystemd ? "; the supervisor stays (the quick start's parent process)"
    : supervisorPid === process.pid ? "; the supervisor's own restart left out (the drill runs inside it)"
    : await restartSupervisorUnit(stack, before.version);
  const notReplaced = (now: Awaited<ReturnType<typeof fleet>>) => now.instances.filter((i) => {
    const old = before.instances.find((b) => b.port === i.port);
    return i.version !== version || i.pid === null || i.pid === old?.pid;
  });
  // /status names a new process at the watcher's next probe after it is ready: the last port
  // replaced can still show its old pid for a moment (the 30-minute monkey saw it 3 times in 9).
  let wrong = notReplaced(await fleet(stack));
  if (wrong.length > 0) await pollUntil(async () => (wrong = notReplaced(await fleet(stack))).length === 0, REPLACED_WITHIN_MS, 200);
  if (wrong.length > 0) throw new Error(`after the deploy, not replaced or not on ${version}: ${wrong.map((i) => `${i.port} (pid ${i.pid ?? "none"}, ${i.version ?? "no answer"})`).join(", ")}`);
  return `deploy of ${version} over itself: ${body.detail}; every instance a new process on ${version}${supervisorNote}`;
}

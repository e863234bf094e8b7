/**
 * @module The cluster installed in the bed the way an operator does it (docs/RUNBOOK.md, "Cluster
 * install"), with the real deploy/install.sh of one release: db1 first (it writes the cluster env
 * file), that file copied to every other machine, db2 and db3 while db1 waits for them, then both
 * app VMs, then the edge. Also what the drills ask the cluster afterwards: which db machine is the
 * Patroni leader, SQL on it, and whether every app VM's click spool has shipped.
 */
import { chmod } from "node:fs/promises";
import { join } from "node:path";
import { waitFor } from "../../service/test/wait.ts";
import type { ClusterBed, Machine, MachineName } from "./cluster-bed.ts";
import { unshippedPerInstance } from "./vm-clicks.ts";

export const DB_MACHINES = ["db1", "db2", "db3"] as const satisfies readonly MachineName[];
export const APP_MACHINES = ["app1", "app2"] as const satisfies readonly MachineName[];
/** Two instances per app VM: six machines share the host's two cores. */
export const APP_INSTANCE_PORTS = [8081, 8082] as const;
const CLUSTER_ENV = "/etc/linkfort/cluster.env";
const EDGE_PORT = 8080;

export interface DeployedCluster {
  adminKey: string;
  /** The edge's Caddy, from the host over the bridge. */
  edgeUrl: string;
  /** Seconds each install step took. */
  timings: [string, number][];
}

async function timed<T>(timings: [string, number][], phase: string, work: () => Promise<T>): Promise<T> {
  const began = performance.now();
  try {
    return await work();
  } finally {
    timings.push([phase, (performance.now() - began) / 1000]);
  }
}

/** `tar -x` of the release in /shared, then its install.sh with `flags`; throws with the output's tail. */
async function install(machine: Machine, version: string, flags: string): Promise<string> {
  // DB_WAIT_SECONDS: a db VM's install waits this long for its PostgreSQL; a replica's first base
  // backup waited for a spread checkpoint (95 s here) before patroni.yml asked for a fast one.
  const result = await machine.exec(`set -e; tar -xzf /shared/linkfort-${version}-linux-x64.tar.gz -C /root; DB_WAIT_SECONDS=240 /root/linkfort-${version}/deploy/install.sh ${flags}`);
  if (result.code !== 0) {
    const journal = (await machine.exec("journalctl -n 60 --no-pager -u patroni -u etcd -u 'linkfort@*' -u linkfort-supervisor -u caddy")).stdout;
    throw new Error(`install.sh ${flags} on ${machine.name} failed (exit ${result.code}):\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-2000)}\n--- journal\n${journal}`);
  }
  return result.stdout;
}

export async function deployCluster(cluster: ClusterBed, version: string): Promise<DeployedCluster> {
  const timings: [string, number][] = [];
  const { machines } = cluster;
  const dbFlags = `--role db --db-hosts ${DB_MACHINES.join(",")} --cluster-env ${CLUSTER_ENV}`;

  await timed(timings, "install.sh --role db (3 machines)", async () => {
    const first = install(machines.db1, version, dbFlags);
    // db1's install writes the file before it waits for a majority of etcd: copy it then, as an
    // operator would, so the other two join while db1 waits.
    const secrets = await waitFor("db1's install to write the cluster env file", async () => {
      const read = await machines.db1.exec(`cat ${CLUSTER_ENV}`);
      return read.code === 0 && read.stdout.includes("REWIND_PASSWORD=") ? read.stdout : null;
    }, 5 * 60_000, { everyMs: 500 });
    const copy = join(cluster.shared, "cluster.env");
    await Bun.write(copy, secrets);
    await chmod(copy, 0o600);
    const copyIn = `install -d -m 0700 /etc/linkfort && install -m 0600 /shared/cluster.env ${CLUSTER_ENV}`;
    await Promise.all(["db2", "db3", ...APP_MACHINES].map((name) => machines[name as MachineName].sh(copyIn)));
    await Promise.all([first, install(machines.db2, version, dbFlags), install(machines.db3, version, dbFlags)]);
  });
  await timed(timings, "install.sh --role app (2 machines)", () => Promise.all(APP_MACHINES.map((name) =>
    install(machines[name], version, `--role app --db-hosts ${DB_MACHINES.join(",")} --cluster-env ${CLUSTER_ENV} --instances ${APP_INSTANCE_PORTS.length}`))));
  await timed(timings, "install.sh --role edge", () => install(machines.edge, version, `--role edge --app-hosts ${APP_MACHINES.map((n) => `${n}:8080`).join(",")}`));

  // The load comes from the host alone, one client address: exempt from the per-IP rate limits, as
  // an operator exempts a probe (RATE_LIMIT_EXEMPT), or the drills would count 429s.
  await timed(timings, "load generator's address exempted on the app VMs", () => Promise.all(APP_MACHINES.map((name) => machines[name].sh(
    `sed -i '/^RATE_LIMIT_EXEMPT=/d' /etc/linkfort/linkfort.env && echo 'RATE_LIMIT_EXEMPT=127.0.0.1,::1,${cluster.hostAddress}' >> /etc/linkfort/linkfort.env && ` +
    `systemctl restart ${APP_INSTANCE_PORTS.map((p) => `linkfort@${p}`).join(" ")} && ` +
    `for i in $(seq 1 120); do curl -sf --max-time 2 http://127.0.0.1:8080/ready >/dev/null && exit 0; sleep 0.5; done; echo 'not ready after the restart' >&2; exit 1`))));

  // One admin key for the cluster, on the app VM whose install made it.
  const keys = await Promise.all(APP_MACHINES.map((name) => machines[name].exec("cat /etc/linkfort/admin-key")));
  const adminKey = keys.map((k) => k.stdout.trim()).find((k) => k.startsWith("lf_"));
  if (!adminKey) throw new Error(`no admin key on ${APP_MACHINES.join(" or ")}: ${keys.map((k) => k.stderr).join("\n")}`);
  return { adminKey, edgeUrl: `http://${machines.edge.address}:${EDGE_PORT}`, timings };
}

/** The db machine whose Patroni answers 200 on /primary (null: none does right now). */
export async function patroniLeader(cluster: ClusterBed, among: readonly MachineName[] = DB_MACHINES): Promise<Machine | null> {
  for (const name of among) {
    const machine = cluster.machines[name];
    const status = await fetch(`http://${machine.address}:8008/primary`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.status, () => 0);
    if (status === 200) return machine;
  }
  return null;
}

/** One query as postgres on the leader's local socket; rows as `a|b` lines. */
export async function leaderQuery(cluster: ClusterBed, sql: string, among?: readonly MachineName[]): Promise<string> {
  const leader = await waitFor("a Patroni leader", () => patroniLeader(cluster, among), 60_000, { everyMs: 250 });
  // Test data only (codes, tags): no single quote inside a double-quoted shell word needs escaping here.
  return leader.sh(`runuser -u postgres -- psql -X -d linkfort -Atc "${sql}"`);
}

/** Waits until every instance on every running app VM reports 0 unshipped clicks. */
export async function waitForClusterSpoolsShipped(cluster: ClusterBed, apps: readonly MachineName[] = APP_MACHINES, timeoutMs = 120_000): Promise<void> {
  await waitFor(`every click spool on ${apps.join(", ")} to ship`, async () => {
    const counts = await Promise.all(apps.map((name) => unshippedPerInstance(cluster.machines[name], APP_INSTANCE_PORTS)));
    return counts.flat().every((n) => n === 0);
  }, timeoutMs, { everyMs: 500, retryErrors: true });
}

/** Clicked events of `code` per User-Agent starting with `tag-`, read on the leader. */
export async function clusterClicksByAgent(cluster: ClusterBed, code: string, tag: string): Promise<Map<string, number>> {
  const rows = await leaderQuery(cluster, `select details->>'user_agent', count(*) from events where event_type = 'clicked' and details->>'short_code' = '${code}' and details->>'user_agent' like '${tag}-%' group by 1`);
  return new Map(rows.split("\n").filter(Boolean).map((row) => {
    const [agent, count] = row.split("|");
    return [agent!, Number(count)];
  }));
}

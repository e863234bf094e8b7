/**
 * Issue 16's cluster drills in the multi-VM bed, not part of `bun test`:
 *
 *   bun deploy/test/cluster-drill.ts [--only a,b] [--out FILE] [--minutes N]
 *
 * Builds one Debian tree and two releases, boots db1 db2 db3 app1 app2 edge on a private bridge
 * (deploy/test/cluster-bed.ts), installs them with the real install.sh --role db|app|edge, and under
 * steady load through the edge (from the host) runs: edge-reload, app-kill, app-upgrade (upgrade
 * and rollback of one app VM), primary-kill (the Patroni leader's VM powered off). Prints one line
 * per drill, MET or NOT MET with what was not (exit 1 if any), and writes the JSON (FILE, default /tmp/cluster-drill-<time>.json) for
 * docs/RELIABILITY.md. Everything is removed at the end, on failure, on Ctrl-C and when --minutes
 * (default 40) run out. Needs root (or password-free sudo), systemd-nspawn, mmdebstrap and ip.
 */
import { parseArgs } from "node:util";
import { requireTool } from "../../service/test/tools.ts";
import { HOST_TOOLS } from "./vm-bed.ts";
import { buildRelease, packageVersion, removeReleaseOutput } from "./vm-releases.ts";
import { CLUSTER_MACHINES, createClusterBed } from "./cluster-bed.ts";
import { deployCluster } from "./cluster-deploy.ts";
import { appUpgradedAndRolledBack, appVmKilled, createDrillLink, edgeReloaded, primaryVmKilled, unmetPromises, type DrillContext, type DrillResult } from "./cluster-scenarios.ts";

const DRILLS = ["edge-reload", "app-kill", "app-upgrade", "primary-kill"] as const;
type Drill = (typeof DRILLS)[number];

const { values: opts } = parseArgs({ options: { only: { type: "string" }, out: { type: "string" }, minutes: { type: "string", default: "40" } } });
const only = (opts.only?.split(",") ?? [...DRILLS]) as Drill[];
const unknown = only.filter((d) => !DRILLS.includes(d));
if (unknown.length) { console.error(`unknown drill(s) ${unknown.join(", ")}; the drills: ${DRILLS.join(", ")}`); process.exit(2); }
const minutes = Number(opts.minutes);
if (!Number.isInteger(minutes) || minutes < 10 || minutes > 120) { console.error("--minutes must be an integer from 10 to 120"); process.exit(2); }
const out = opts.out ?? `/tmp/cluster-drill-${new Date().toISOString().replace(/[:.]/g, "-")}.json`;

const began = performance.now();
const log = (line: string) => console.log(`[${((performance.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}`);
const timings: Record<string, number> = {};
async function timed<T>(phase: string, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try { return await work(); } finally { timings[phase] = Math.round((performance.now() - t0) / 100) / 10; log(`${phase}: ${timings[phase]} s`); }
}

for (const command of [...HOST_TOOLS, "ip"]) requireTool(command);
const where = { dir: `/tmp/bed-cluster-drill-${process.pid}`, id: `d${process.pid}` };
const cluster = await createClusterBed(where);
const base = await packageVersion();
const versions = { a: `${base}-cluster.1`, b: `${base}-cluster.2` };

let cleaning: Promise<void> | null = null;
const cleanUp = () => (cleaning ??= (async () => {
  log("removing the bed");
  await cluster.remove().catch((e: Error) => console.error(`bed removal failed: ${e.message}`));
  await Promise.all(Object.values(versions).map(removeReleaseOutput));
})());
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void cleanUp().then(() => process.exit(130)));
const deadline = setTimeout(() => {
  console.error(`cluster-drill: ${minutes} minutes passed; stopping`);
  void cleanUp().then(() => process.exit(1));
}, minutes * 60_000);

function line(r: DrillResult): string {
  const c = r.clicks;
  return `${r.scenario}: ${r.load.redirects} redirects (${r.load.redirectsFailed} failed), ${r.load.creates} creates (${r.load.acknowledged} acknowledged, ${r.load.refused} refused 503, ${r.createsCutOff.length} cut off on the dead VM, ${r.failedCreates.length} failed otherwise); ` +
    `clicks: ${c.answered} 302s, ${c.events} events, ${c.lost.length} lost, ${c.unanswered.length} unanswered, ${c.doubledInFault.length} doubled in the fault, ${c.doubledOtherwise.length} doubled otherwise; ` +
    `${Object.entries(r.measured).map(([k, v]) => `${k}=${v}`).join(" ")}; ${r.seconds.toFixed(0)} s` +
    (r.load.samples.length ? `\n    samples: ${r.load.samples.join("\n             ")}` : "");
}

async function main(): Promise<number> {
  log(`tree + releases ${versions.a}, ${versions.b}`);
  await Promise.all([
    timed("tree build", () => cluster.build()),
    timed("release builds", async () => {
      if (only.includes("app-upgrade")) await buildRelease(cluster.shared, versions.b);
      await buildRelease(cluster.shared, versions.a);
    }),
  ]);
  await timed("boot of 6 machines", () => cluster.boot(CLUSTER_MACHINES));
  const deployed = await deployCluster(cluster, versions.a);
  for (const [phase, s] of deployed.timings) { timings[phase] = Math.round(s * 10) / 10; log(`${phase}: ${timings[phase]} s`); }
  const link = await createDrillLink(deployed.edgeUrl, deployed.adminKey, `drill${process.pid}`);
  const ctx: DrillContext = { cluster, deployed, link: { code: link.code, target: link.target }, userId: link.userId };

  const results: (DrillResult & { acknowledgedMissing?: string[] })[] = [];
  for (const drill of DRILLS.filter((d) => only.includes(d))) {
    log(`drill ${drill}`);
    const result = drill === "edge-reload" ? await edgeReloaded(ctx)
      : drill === "app-kill" ? await appVmKilled(ctx)
      : drill === "app-upgrade" ? await appUpgradedAndRolledBack(ctx, versions.b)
      : await primaryVmKilled(ctx);
    results.push(result);
    const unmet = unmetPromises(result);
    log(`${unmet.length ? `NOT MET (${unmet.join("; ")})` : "MET"}: ${line(result)}` + ("acknowledgedMissing" in result ? `; acknowledged writes missing on the new primary: ${result.acknowledgedMissing!.length}` : ""));
  }
  await Bun.write(out, JSON.stringify({ timings, results: results.map(({ answers, ...r }) => ({ ...r, unmet: unmetPromises(r), requests: answers.length })) }, null, 2));
  log(`report: ${out}`);
  return results.some((r) => unmetPromises(r).length) ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(error instanceof Error ? error.stack ?? error.message : String(error));
} finally {
  clearTimeout(deadline);
  await cleanUp();
  log(`done (exit ${code})`);
}
process.exit(code);

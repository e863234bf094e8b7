/**
 * The drill table for the VM bed (real systemd), not part of `bun test`:
 *
 *   bun deploy/test/vm-drill.ts [--all | --fault a,b] [--rate N] [--phase-ms N] [--out FILE] [--minutes N]
 *
 * Builds a throwaway Debian 12 bed (deploy/test/bed.sh) and one release, installs it with the
 * real deploy/install.sh, turns drills on for the guest's supervisor, runs `linkfort-supervisor
 * drill` inside the guest (with the click spools on a 64 MiB tmpfs when disk-full is among the
 * faults: it refuses a bigger filesystem), prints the table and writes the JSON report (FILE, default
 * /tmp/vm-drill-<time>.json) with the guest's journal of the drill beside it (FILE.journal).
 * The bed is removed at the end, on failure, on Ctrl-C, and when --minutes (default 45) run out.
 * Needs root (or password-free sudo), systemd-nspawn and mmdebstrap, like vm.test.ts.
 */
import { parseArgs } from "node:util";
import { requireTool } from "../../service/test/tools.ts";
import { formatTable } from "../../supervisor/src/drill/report.ts";
import { createBed, HOST_TOOLS } from "./vm-bed.ts";
import { enableDrills, runGuestDrill, smallSpoolDisk } from "./vm-drill-guest.ts";
import { buildRelease, packageVersion, removeReleaseOutput } from "./vm-releases.ts";

const { values: opts } = parseArgs({
  options: {
    all: { type: "boolean" }, fault: { type: "string" }, rate: { type: "string" }, "phase-ms": { type: "string" },
    out: { type: "string" }, minutes: { type: "string", default: "45" },
  },
});
if (Boolean(opts.all) === Boolean(opts.fault)) {
  console.error("usage: bun deploy/test/vm-drill.ts --all | --fault NAME[,NAME…] [--rate N] [--phase-ms N] [--out FILE] [--minutes N]");
  process.exit(2);
}
const minutes = Number(opts.minutes);
if (!Number.isInteger(minutes) || minutes < 10 || minutes > 120) { console.error("--minutes must be an integer from 10 to 120"); process.exit(2); }
const drillArgs = [opts.all ? "--all" : `--fault ${opts.fault}`, opts.rate && `--rate ${opts.rate}`, opts["phase-ms"] && `--phase-ms ${opts["phase-ms"]}`]
  .filter(Boolean).join(" ");
if (!/^[-a-z0-9, ]+$/.test(drillArgs)) { console.error(`unexpected characters in the drill's arguments: ${drillArgs}`); process.exit(2); }
const out = opts.out ?? `/tmp/vm-drill-${new Date().toISOString().replace(/[:.]/g, "-")}.json`;

const began = performance.now();
const log = (line: string) => console.log(`[${((performance.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}`);

for (const command of HOST_TOOLS) requireTool(command);
const bed = createBed({ dir: `/tmp/bed-vm-drill-${process.pid}`, name: `lfdrill${process.pid}`, monitoring: false });
const version = `${await packageVersion()}-vmdrill.1`;

let cleaning: Promise<void> | null = null;
const cleanUp = () => (cleaning ??= (async () => {
  log("removing the bed");
  await bed.remove().catch((e: Error) => console.error(`bed removal failed: ${e.message}`));
  await removeReleaseOutput(version);
})());
// Whatever stops the run, the bed goes: Ctrl-C, a kill, or the time limit.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void cleanUp().then(() => process.exit(130)));
const deadline = setTimeout(() => {
  console.error(`vm-drill: ${minutes} minutes passed; stopping`);
  void cleanUp().then(() => process.exit(1));
}, minutes * 60_000);

async function main(): Promise<number> {
  log(`building the bed and release ${version}`);
  const [built] = await Promise.all([bed.bedSh(["build"]), buildRelease(bed.shared, version)]);
  if (built.code !== 0) throw new Error(`bed.sh build failed:\n${built.stdout.slice(-3000)}\n${built.stderr.slice(-3000)}`);
  const up = await bed.bedSh(["up"]);
  if (up.code !== 0) throw new Error(`bed.sh up failed:\n${up.stdout}\n${up.stderr}`);
  log(up.stdout.trim());

  log("install.sh");
  const install = await bed.exec(`tar -xzf /shared/linkfort-${version}-linux-x64.tar.gz -C /root && /root/linkfort-${version}/deploy/install.sh`);
  if (install.code !== 0) throw new Error(`install.sh failed (exit ${install.code}):\n${install.stdout.slice(-3000)}\n${install.stderr.slice(-2000)}`);
  await enableDrills(bed);
  if (opts.all || opts.fault!.split(",").includes("disk-full")) await smallSpoolDisk(bed);
  const since = (await bed.sh("date -u '+%Y-%m-%d %H:%M:%S'"));

  log(`linkfort-supervisor drill ${drillArgs} (inside the guest)`);
  const drill = await runGuestDrill(bed, drillArgs, (minutes - 5) * 60);
  // What systemd and the parts said during the drill, for the notes of a row not met.
  const journal = await bed.exec(`journalctl --no-pager -o short-precise --since '${since}' -u linkfort-supervisor -u 'linkfort@*' -u caddy -u redis-server -u 'postgresql*' -u init.scope`);
  await Bun.write(`${out}.journal`, journal.stdout);
  log(`drill exited ${drill.code}; journal: ${out}.journal`);
  if (!drill.report) {
    console.log(drill.output.slice(-5000));
    return 1;
  }
  await Bun.write(out, JSON.stringify(drill.report, null, 2) + "\n");
  console.log(`\n${formatTable(drill.report)}\n\nreport: ${out}`);
  return drill.code;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
} finally {
  clearTimeout(deadline);
  await cleanUp();
  log("done");
}
process.exit(code);

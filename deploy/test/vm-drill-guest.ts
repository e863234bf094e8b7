/**
 * @module `linkfort-supervisor drill` inside the test VM, against the stack install.sh set up
 * under systemd: drills turned on in the supervisor's env file, the drill run with that file's
 * settings and the bootstrap admin key, its JSON report read back. Used by vm-drill.ts (the full
 * table) and vm.test.ts (the CI subset).
 */
import { join } from "node:path";
import type { DrillReport, DrillRow } from "../../supervisor/src/drill/report.ts";
import type { Bed } from "./vm-bed.ts";

const SUPERVISOR_ENV = "/etc/linkfort/supervisor.env";

/**
 * DRILLS=on in the supervisor's env file (install.sh writes it once and never again), then the
 * daemon restarted (Type=notify: the restart returns once it is ready). reset-failed first: the
 * unit's start limit (5 in 10 min) counts every start, the bed's own upgrades included, and the
 * supervisor-kill drill needs one more.
 */
export async function enableDrills(bed: Bed): Promise<void> {
  await bed.sh(`grep -q '^DRILLS=on$' ${SUPERVISOR_ENV} || echo DRILLS=on >> ${SUPERVISOR_ENV}; systemctl reset-failed linkfort-supervisor; systemctl restart linkfort-supervisor`);
}

/** The spools' own small filesystem in the guest, for the disk-full drill. */
export const GUEST_SPOOL_DISK = "/var/lib/linkfort/spool-disk";

/**
 * The instances' click spools moved to a 64 MiB tmpfs of their own (CLICK_SPOOL_DIR in linkfort.env,
 * and in supervisor.env, whose settings the drill runs with), and the instances restarted onto it
 * before any load: the disk-full drill refuses the guest's root disk (far above its 2 GiB limit),
 * as it should on a real VM whose spools share a big volume.
 */
export async function smallSpoolDisk(bed: Bed): Promise<void> {
  await bed.sh([
    "set -e",
    `mkdir -p ${GUEST_SPOOL_DISK}`,
    `mountpoint -q ${GUEST_SPOOL_DISK} || mount -t tmpfs -o "size=64m,mode=0700,uid=$(id -u linkfort),gid=$(id -g linkfort)" tmpfs ${GUEST_SPOOL_DISK}`,
    `for f in /etc/linkfort/linkfort.env ${SUPERVISOR_ENV}; do grep -q '^CLICK_SPOOL_DIR=${GUEST_SPOOL_DISK}$' "$f" || echo 'CLICK_SPOOL_DIR=${GUEST_SPOOL_DISK}' >> "$f"; done`,
    "systemctl restart $(systemctl list-units --plain --no-legend 'linkfort@*.service' | awk '{print $1}')",
  ].join("\n"));
}

export interface GuestDrill {
  /** The drill's exit code (0 every promise met, 1 one not met, 2 refused; 124 the time ran out). */
  code: number;
  output: string;
  /** Null when the drill wrote no report (refused, or killed by the timeout). */
  report: DrillReport | null;
}

/**
 * `linkfort-supervisor drill ARGS --json …` as root in the guest, with the daemon's own settings
 * (so it finds its ports, database and control token) and the admin key install.sh saved, killed
 * after `timeoutS`. The report goes through /shared.
 */
export async function runGuestDrill(bed: Bed, args: string, timeoutS: number): Promise<GuestDrill> {
  const name = `drill-${Date.now()}.json`;
  const run = await bed.exec([
    `set -a; . ${SUPERVISOR_ENV}; set +a`,
    `export LINKFORT_ADMIN_KEY="$(cat /etc/linkfort/admin-key)"`,
    `timeout -k 10 ${timeoutS} linkfort-supervisor drill ${args} --json /tmp/${name}; code=$?`,
    `[ -f /tmp/${name} ] && cp /tmp/${name} /shared/${name}`,
    "exit $code",
  ].join("\n"));
  const file = Bun.file(join(bed.shared, name));
  const report = (await file.exists()) ? ((await file.json()) as DrillReport) : null;
  return { code: run.code, output: run.stdout + run.stderr, report };
}

/** The row a drill finished (phases, recovery and data checks measured), or null when it did not. */
export function finished(row: DrillRow | undefined): Required<Pick<DrillRow, "phases" | "recovery" | "data">> & DrillRow | null {
  return row?.phases && row.recovery && row.data ? (row as Required<Pick<DrillRow, "phases" | "recovery" | "data">> & DrillRow) : null;
}

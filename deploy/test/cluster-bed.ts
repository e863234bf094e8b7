/**
 * @module Several test VMs on one private bridge, from the test's side: one Debian tree built once
 * (bed.sh build with BED_CLUSTER=1), booted by every machine under an overlayfs disk of its own
 * (BED_OVERLAY: kept across a kill and the next boot, like a VM's disk across a power cut), each with a bridge address, its role name as hostname, and every machine's name in
 * /etc/hosts. The bridge has the host's address too (the load runs on the host) and no uplink.
 *
 * Everything is named after `id` (bridge, machines, cgroups, folders), so two runs never meet, and
 * `remove` deletes only what this bed made: its machines by their nspawn PIDs, its bridge by name,
 * its tree and folder.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createBed, type Bed, type CommandResult } from "./vm-bed.ts";
import { rootPrefix } from "../../service/test/tools.ts";
import { waitFor } from "../../service/test/wait.ts";

/** The machines of issue 16's cluster, in /etc/hosts order. */
export const CLUSTER_MACHINES = ["db1", "db2", "db3", "app1", "app2", "edge"] as const;
export type MachineName = (typeof CLUSTER_MACHINES)[number];

export interface Machine extends Bed {
  /** The role name: the guest's hostname, and its name in every machine's /etc/hosts. */
  name: MachineName;
  /** Its address on the bridge (no prefix length). */
  address: string;
  /** bed.sh up; throws with bed.sh's output when it fails. */
  up(): Promise<void>;
  /** bed.sh kill: a power cut (SIGKILL of the guest's PID 1), then its cgroups removed; its disk stays for the next up. */
  kill(): Promise<void>;
  /** bed.sh down: a clean power off. */
  down(): Promise<void>;
}

export interface ClusterBed {
  /** Bridge name and the host's address on it. */
  bridge: string;
  hostAddress: string;
  /** Host folder that is /shared in every machine (releases, bun, the cluster env file). */
  shared: string;
  machines: Record<MachineName, Machine>;
  /** The one tree (bed.sh build, BED_CLUSTER=1): debs for every role, ping. */
  build(): Promise<void>;
  /** The bridge, then the named machines booted in parallel. */
  boot(names: readonly MachineName[]): Promise<void>;
  /** Every machine's power cut (in parallel) and its disk removed, the bridge, the tree, the folder. */
  remove(): Promise<void>;
}

async function run(argv: string[]): Promise<CommandResult> {
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

const must = (what: string, result: CommandResult): CommandResult => {
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}):\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`);
  return result;
};

/**
 * A /24 in 10.211.0.0/16 that no host interface uses yet, chosen from the PID so that two runs
 * started at once take different ones.
 */
async function freeSubnet(seed: number): Promise<string> {
  const used = (await run(["ip", "-4", "-o", "addr", "show"])).stdout;
  for (let i = 0; i < 250; i++) {
    const third = ((seed + i) % 250) + 1;
    if (!used.includes(` 10.211.${third}.`)) return `10.211.${third}`;
  }
  throw new Error("no free /24 in 10.211.0.0/16 for the bed's bridge");
}

/** `id`: a short name for this run (letters and digits, at most 8: machine names must stay within 12). */
export async function createClusterBed(opts: { dir: string; id: string }): Promise<ClusterBed> {
  if (!/^[a-z][a-z0-9]{0,7}$/.test(opts.id)) throw new Error(`cluster bed id ${opts.id}: 1-8 lowercase letters and digits`);
  const subnet = await freeSubnet(process.pid);
  const bridge = `lfbr${opts.id}`.slice(0, 15);
  const hostAddress = `${subnet}.1`;
  const shared = join(opts.dir, "shared");
  mkdirSync(shared, { recursive: true });
  // db1 = .11 … edge = .16.
  const addressOf = (name: MachineName) => `${subnet}.${11 + CLUSTER_MACHINES.indexOf(name)}`;
  const hostsFile = join(opts.dir, "hosts");
  writeFileSync(hostsFile, CLUSTER_MACHINES.map((name) => `${addressOf(name)}\t${name}\n`).join(""));

  const tree = createBed({ dir: join(opts.dir, "tree"), name: `${opts.id}tree`, monitoring: false, env: { BED_CLUSTER: "1" } });
  const treeRoot = join(opts.dir, "tree", "rootfs");
  const bedSh = (args: string[]) => tree.bedSh(args); // bridge up/down need no machine
  let bridgeUp = false;

  const machine = (name: MachineName): Machine => {
    const bed = createBed({
      dir: join(opts.dir, "machines", name), name: `${opts.id}${name}`, monitoring: false, shared,
      env: {
        BED_ROOT: treeRoot, BED_OVERLAY: "1", BED_BRIDGE: bridge, BED_ADDRESS: `${addressOf(name)}/24`,
        BED_HOSTS: hostsFile, BED_HOSTNAME: name,
      },
    });
    return {
      ...bed, name, address: addressOf(name),
      async up() { must(`bed.sh up (${name})`, await bed.bedSh(["up"])); },
      async kill() { must(`bed.sh kill (${name})`, await bed.bedSh(["kill"])); },
      async down() { must(`bed.sh down (${name})`, await bed.bedSh(["down"])); },
    };
  };
  const machines = Object.fromEntries(CLUSTER_MACHINES.map((name) => [name, machine(name)])) as Record<MachineName, Machine>;

  return {
    bridge, hostAddress, shared, machines,
    async build() { must("bed.sh build (BED_CLUSTER=1)", await tree.bedSh(["build"])); },
    async boot(names) {
      if (!bridgeUp) {
        must(`bed.sh bridge up ${bridge}`, await bedSh(["bridge", "up", bridge, `${hostAddress}/24`]));
        bridgeUp = true;
      }
      await Promise.all(names.map((name) => machines[name].up()));
    },
    async remove() {
      const problems: string[] = [];
      // A throwaway machine needs no clean shutdown (one can take bed.sh down's whole 30 s): its
      // power is cut, then remove = destroy (its disk; nothing of the tree, which is not its own).
      await Promise.all(CLUSTER_MACHINES.map(async (name) => {
        await machines[name].bedSh(["kill"]); // fails harmlessly for a machine not running
        await machines[name].remove().catch((e: Error) => { problems.push(e.message); });
      }));
      // The kernel frees a dead machine's network namespace, and its veth, asynchronously.
      await waitFor("the machines' veths to go", async () => !(await run(["ip", "-o", "link", "show"])).stdout.includes(`vb-${opts.id}`), 30_000, { everyMs: 200 })
        .catch((e: Error) => { problems.push(e.message); });
      const down = await bedSh(["bridge", "down", bridge]);
      if (down.code !== 0) problems.push(`bridge down ${bridge}: ${down.stderr}`);
      await tree.remove().catch((e: Error) => { problems.push(e.message); });
      const asRoot = rootPrefix("systemd-nspawn");
      const rm = await run([...asRoot, "rm", "-rf", "--one-file-system", opts.dir]);
      if (rm.code !== 0) problems.push(`rm ${opts.dir}: ${rm.stderr}`);
      if (problems.length) throw new Error(`cluster bed removal: ${problems.join("\n")}`);
    },
  };
}

/** What this bed could leave on the host: its bridge, veths, cgroups, folder (empty when clean). */
export async function leftovers(bed: { bridge: string }, opts: { dir: string; id: string }): Promise<string[]> {
  const found: string[] = [];
  const links = (await run(["ip", "-o", "link", "show"])).stdout;
  for (const line of links.split("\n")) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    if (name && (name === bed.bridge || name.startsWith(`vb-${opts.id}`))) found.push(`link ${name}`);
  }
  const cgroups = await run(["sh", "-c", `ls -d /sys/fs/cgroup/systemd-bed-${opts.id}* /sys/fs/cgroup/*/systemd-bed-${opts.id}* 2>/dev/null || true`]);
  found.push(...cgroups.stdout.split("\n").filter(Boolean).map((path) => `cgroup ${path}`));
  const propagate = await run(["sh", "-c", `ls -d /run/systemd/nspawn/propagate/${opts.id}* 2>/dev/null || true`]);
  found.push(...propagate.stdout.split("\n").filter(Boolean).map((path) => `nspawn folder ${path}`));
  const mounts = await Bun.file("/proc/self/mounts").text();
  found.push(...mounts.split("\n").filter((line) => line.includes(` ${opts.dir}/`)).map((line) => `mount ${line.split(" ")[1]}`));
  const dir = await run(["test", "-e", opts.dir]);
  if (dir.code === 0) found.push(`folder ${opts.dir}`);
  return found;
}

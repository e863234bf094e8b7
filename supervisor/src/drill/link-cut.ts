/**
 * @module A network path cut with nftables: the kernel drops every TCP packet to and from given
 * host:port pairs, as a cut cable or a dead switch would. Nothing answers, nothing resets: open
 * connections hang, new ones wait for their connect timeout.
 *
 * The cut lives in a table of the drill's own (`inet linkfort_drill_<pid>`), and its length in the
 * kernel, not in this process: each host:port is an element of a set whose `timeout` makes the
 * kernel forget it when the cut is over, so a drill killed mid-fault still ends its cut on time.
 * The drill deletes its table afterwards; a table left by a killed drill (its PID gone) is
 * deleted by the next one. Rules sit in output (which loopback traffic passes, both ways) and in
 * input (replies from another host), and match only the given addresses and port.
 */
import { existsSync, readFileSync } from "node:fs";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { alive } from "./stack.ts";

export const NFT_INSTALL = "apt-get install -y nftables";
const TABLE_PREFIX = "linkfort_drill_";
const CAP_NET_ADMIN = 12;

export interface LinkEnd {
  host: string;
  port: number;
}

export interface CutResult {
  /** The address:port pairs cut. */
  cut: string[];
  /** Packets the rules dropped during the cut. */
  droppedPackets: number;
  /** Tables of killed drills deleted before the cut. */
  staleTablesRemoved: number;
}

/** nft's path: Debian puts it in /usr/sbin, which not every PATH has. */
export function nftPath(): string | null {
  return Bun.which("nft") ?? ["/usr/sbin/nft", "/sbin/nft"].find((p) => existsSync(p)) ?? null;
}

/** This process may change the network namespace's firewall (CAP_NET_ADMIN in its effective set). */
function hasNetAdmin(): boolean {
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    return hex !== undefined && (BigInt(`0x${hex}`) & (1n << BigInt(CAP_NET_ADMIN))) !== 0n;
  } catch {
    return process.getuid?.() === 0;
  }
}

/**
 * Runs nft without blocking the event loop: the drill's load runs in this process (and the
 * console's drills in the supervisor's), and a blocked loop would show up as the stack's latency.
 */
async function nft(args: string[], script?: string): Promise<{ ok: boolean; out: string; err: string }> {
  const bin = nftPath();
  if (!bin) return { ok: false, out: "", err: `nft is missing (${NFT_INSTALL})` };
  const proc = Bun.spawn([bin, ...args], { stdin: script === undefined ? "ignore" : new Blob([script]), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { ok: code === 0, out, err: err.trim() };
}

/** How long a probe's verdict stands: the console asks on every poll, and nft's presence or this process's capabilities rarely change. */
const PROBE_FOR_MS = 30_000;
let probed: { at: number; refusal: string | null } | undefined;

/** Why this process cannot cut a link here, or null when it can. Synchronous (a fault's `unavailable`), so the probe is spawned synchronously, and remembered. */
export function cutRefusal(): string | null {
  if (probed && performance.now() - probed.at < PROBE_FOR_MS) return probed.refusal;
  const bin = nftPath();
  let refusal: string | null = null;
  if (!bin) refusal = `nft is missing: ${NFT_INSTALL}`;
  else if (!hasNetAdmin()) refusal = "adding nftables rules needs CAP_NET_ADMIN: run the drill as root";
  else {
    const probe = Bun.spawnSync([bin, "list", "tables"], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    if (probe.exitCode !== 0) {
      refusal = `nft cannot read the firewall here (${probe.stderr.toString().trim().split("\n")[0]}): the kernel has no nf_tables, or this network namespace may not change it`;
    }
  }
  probed = { at: performance.now(), refusal };
  return refusal;
}

/** Deletes the tables of drills whose process is gone (their cuts have long expired); returns how many. */
export async function removeStaleTables(): Promise<number> {
  const listed = await nft(["list", "tables"]);
  if (!listed.ok) throw new Error(`nft list tables: ${listed.err}`);
  let removed = 0;
  for (const [, name, pid] of listed.out.matchAll(new RegExp(`^table inet (${TABLE_PREFIX}(\\d+))$`, "gm"))) {
    if (Number(pid) === process.pid || alive(Number(pid))) continue;
    if ((await nft(["delete", "table", "inet", name!])).ok) removed++;
  }
  return removed;
}

/** Every address `host` stands for: itself when it is one, else what the resolver gives (localhost: 127.0.0.1 and ::1). */
async function addressesOf(host: string): Promise<string[]> {
  if (isIP(host)) return [host];
  return [...new Set((await lookup(host, { all: true })).map((a) => a.address))];
}

/** The ruleset: two timed sets (IPv4, IPv6) of address . port, matched both ways in output and input, counted. */
function tableScript(table: string, v4: string[], v6: string[], timeout: string): string {
  const rules = ["ip daddr . tcp dport @cut4", "ip saddr . tcp sport @cut4", "ip6 daddr . tcp dport @cut6", "ip6 saddr . tcp sport @cut6"]
    .map((match) => `    ${match} counter drop`).join("\n");
  const elements = (pairs: string[]) => (pairs.length ? ` elements = { ${pairs.map((p) => `${p} timeout ${timeout}`).join(", ")} };` : "");
  return `table inet ${table} {
  set cut4 { type ipv4_addr . inet_service; flags timeout;${elements(v4)} }
  set cut6 { type ipv6_addr . inet_service; flags timeout;${elements(v6)} }
  chain output {
    type filter hook output priority filter; policy accept;
${rules}
  }
  chain input {
    type filter hook input priority filter; policy accept;
${rules}
  }
}
`;
}

/** Cuts every TCP packet to and from `ends` for `ms`, then deletes the table (also on failure). */
export async function cutLink(ends: LinkEnd[], ms: number): Promise<CutResult> {
  const staleTablesRemoved = await removeStaleTables();
  const v4: string[] = [];
  const v6: string[] = [];
  for (const end of ends) {
    for (const address of await addressesOf(end.host)) (isIP(address) === 6 ? v6 : v4).push(`${address} . ${end.port}`);
  }
  if (v4.length + v6.length === 0) throw new Error(`no address for ${ends.map((e) => e.host).join(", ")}`);
  const table = `${TABLE_PREFIX}${process.pid}`;
  // One transaction: the table, its rules and the timed elements appear at once.
  const made = await nft(["-f", "-"], tableScript(table, v4, v6, `${ms}ms`));
  if (!made.ok) throw new Error(`nft could not add the cut: ${made.err}`);
  let droppedPackets = 0;
  try {
    await Bun.sleep(ms);
    const listed = await nft(["list", "table", "inet", table]);
    for (const [, packets] of listed.out.matchAll(/counter packets (\d+)/g)) droppedPackets += Number(packets);
  } finally {
    await nft(["delete", "table", "inet", table]);
  }
  const shown = [...v4.map((p) => p.replace(" . ", ":")), ...v6.map((p) => `[${p.replace(" . ", "]:")}`)];
  return { cut: shown, droppedPackets, staleTablesRemoved };
}

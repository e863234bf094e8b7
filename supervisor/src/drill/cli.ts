/**
 * @module `linkfort-supervisor drill --fault NAME[,NAME…] | --all [--json FILE] [--rate N] [--phase-ms N]
 * [--hold-ms N]`: runs fault drills against the running daemon's stack and prints the table.
 * Refused unless this supervisor's config says DRILLS=on, so a production supervisor is never
 * drilled by accident; load goes only to the public port on 127.0.0.1.
 */
import { writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { parseFlags } from "../../../service/src/lib/env.ts";
import type { SupervisorConfig } from "../config.ts";
import { FAULTS, faultNames, findFault, type Fault } from "./faults.ts";
import { formatMonkeySummary, runMonkey } from "./monkey.ts";
import { formatTable, type DrillReport } from "./report.ts";
import { runDrill } from "./run.ts";
import { stackFromConfig } from "./stack.ts";

export const DRILL_USAGE = `linkfort-supervisor drill --fault NAME[,NAME…] | --all | --monkey MS [--json FILE] [--rate N] [--phase-ms N] [--hold-ms N] [settings…]
  needs DRILLS=on in the supervisor's settings and an admin key (--admin-key or LINKFORT_ADMIN_KEY)
  faults: ${faultNames.join(", ")}
  --monkey MS    random faults (full drills, random pauses) for MS milliseconds (at most 7200000)
  --rate N       offered requests per second through the public port (default 100, at most 2000)
  --phase-ms N   load before the fault and after recovery (default 5000, at most 600000)
  --hold-ms N    how long instance-hang holds SIGSTOP and disk-full its ballast (default 2000, at most 60000)
  disk-full fills the filesystem of the instances' click spools (CLICK_SPOOL_DIR) and refuses one with more than 2 GiB free
  postgres-link-cut drops PostgreSQL's packets (DATABASE_URL's host and port) for 20 s with nftables: root or CAP_NET_ADMIN,
                 and nft (apt-get install -y nftables); the kernel ends the cut even if the drill is killed
  instance-memory lowers one instance's memory limit below its RSS: its unit's MemoryMax= (the kernel's OOM kill; root,
                 where the kernel holds the unit's limit), else the supervisor's INSTANCE_MEMORY_LIMIT_MB (POST /memory-limit)`;

interface DrillArgs { faults: Fault[]; monkeyMs?: number; json?: string; rate: number; phaseMs: number; holdMs: number }

const OWN = new Set(["fault", "all", "monkey", "json", "rate", "phase-ms", "hold-ms"]);

/** Splits the drill's own options from the supervisor settings (which main.ts loads as for every command). */
export function drillArgs(args: string[]): { flags: Map<string, string>; rest: string[] } {
  const { flags, rest } = parseFlags(args);
  for (const [name, value] of flags) {
    if (!OWN.has(name)) continue;
    rest.push(`--${name}`, value);
    flags.delete(name);
  }
  return { flags, rest };
}

function parse(rest: string[]): DrillArgs | string {
  const { flags, rest: extra } = parseFlags(rest);
  if (extra.length > 0) return `unexpected arguments: ${extra.join(" ")}`;
  const number = (name: string, fallback: number, max: number): number | string => {
    const raw = flags.get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    return Number.isInteger(n) && n >= 1 && n <= max ? n : `--${name} must be an integer from 1 to ${max}`;
  };
  const rate = number("rate", 100, 2_000);
  const phaseMs = number("phase-ms", 5_000, 600_000);
  const holdMs = number("hold-ms", 2_000, 60_000);
  const monkey = flags.has("monkey") ? number("monkey", 0, 7_200_000) : undefined;
  for (const v of [rate, phaseMs, holdMs, monkey]) if (typeof v === "string") return v;
  const name = flags.get("fault");
  if ([name !== undefined, flags.has("all"), monkey !== undefined].filter(Boolean).length !== 1) return "give exactly one of --fault NAME, --all or --monkey MS";
  const named = name === undefined ? FAULTS : name.split(",").map((n) => findFault(n.trim()) ?? n.trim());
  const unknown = named.find((f): f is string => typeof f === "string");
  if (unknown !== undefined) return `unknown fault "${unknown}" (one of: ${faultNames.join(", ")})`;
  return { faults: named as Fault[], monkeyMs: monkey as number | undefined, json: flags.get("json"), rate: rate as number, phaseMs: phaseMs as number, holdMs: holdMs as number };
}

/** Runs the drills; 0 when every promise was met (monkey: nothing lost, availability ≥ 99.99 %), 1 when not, 2 when refused. */
export async function runDrillCommand(config: SupervisorConfig, rest: string[], out: (line: string) => void): Promise<number> {
  if (config.drills !== "on") {
    out("drill refused: drills are off for this supervisor (DRILLS=off, the default). Set DRILLS=on in the supervisor's settings of a staging or quick-start stack; never on production.");
    return 2;
  }
  const args = parse(rest);
  if (typeof args === "string") { out(`drill: ${args}\n\n${DRILL_USAGE}`); return 2; }
  if (!config.adminKey) { out("drill refused: it needs an admin API key to make its own user and links (--admin-key or LINKFORT_ADMIN_KEY)"); return 2; }
  const stack = stackFromConfig(config);
  const report: DrillReport = {
    command: `linkfort-supervisor drill ${rest.join(" ")}`.trim(), started_at: new Date().toISOString(), host: hostname(),
    rate_per_second: args.rate, phase_ms: args.phaseMs, rows: [],
  };
  const drill = { stack, adminKey: config.adminKey, rate: args.rate, phaseMs: args.phaseMs, holdMs: args.holdMs };
  if (args.monkeyMs !== undefined) {
    const { rows, summary } = await runMonkey(args.faults, { ...drill, durationMs: args.monkeyMs, out });
    report.rows = rows;
    report.monkey = summary;
    out("");
    out(formatTable(report));
    out(formatMonkeySummary(summary));
    if (args.json) await writeFile(args.json, JSON.stringify(report, null, 2) + "\n");
    const healthy = summary.clicks_lost === 0 && summary.creates_missing === 0 && summary.import_rows_missing === 0 && (summary.availability_percent ?? 0) >= 99.99;
    return healthy ? 0 : 1;
  }
  for (const fault of args.faults) {
    out(`drill ${fault.name}: ${fault.promise}…`);
    const row = await runDrill(fault, drill);
    out(`  ${row.met === true ? "met" : row.met === false ? "NOT MET" : "not run"}${row.why.length ? `: ${row.why.join("; ")}` : ""}`);
    report.rows.push(row);
  }
  out("");
  out(formatTable(report));
  if (args.json) await writeFile(args.json, JSON.stringify(report, null, 2) + "\n");
  return report.rows.every((r) => r.met !== false) ? 0 : 1;
}

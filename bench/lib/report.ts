/** The one table, the ratio lines and the JSON file every run produces. */
import type { LoadResult, Tool } from "./load.ts";

export interface Row extends LoadResult {
  scenario: string;
  target: string;
  tool: Tool;
  /** RSS of each instance behind the target after the run (MB). */
  rssMb: number[];
  /** CPU the server processes used, in cores (sum over the instances). */
  serverCpu: number;
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

export function table(rows: Row[]): string {
  const head = ["scenario", "target", "tool", "req/s", "p50 ms", "p99 ms", "non-2xx/3xx", "unexpected", "errors", "tool cpu", "srv cpu", "RSS MB"];
  const body = rows.map((r) => [
    r.scenario, r.target, r.tool, fmt(r.rps), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), String(r.non23), String(r.unexpected), String(r.errors),
    `${fmt(r.toolCpu * 100)}%`, fmt(r.serverCpu, 2), r.rssMb.map((m) => fmt(m)).join("/"),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => "| " + cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |";
  return [line(head), "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|", ...body.map(line)].join("\n");
}

export interface Ratio {
  tool: Tool;
  target: string;
  rpsRatio: number;
  p99Ratio: number;
  /** Why the ratio does not count, if it does not. */
  flag?: string;
}

/** redirect-hot on each linkfort target over the baseline on the matching baseline target. */
export function ratios(rows: Row[]): Ratio[] {
  const out: Ratio[] = [];
  for (const r of rows.filter((x) => x.scenario === "redirect-hot" && !x.target.startsWith("baseline"))) {
    const base = rows.find((x) => x.tool === r.tool && x.target === `baseline-${r.target}`);
    if (!base) continue;
    const flags: string[] = [];
    // One autocannon/wrk thread near a full core: it, not the server, set the rate.
    if (base.toolCpu >= 0.9) flags.push(`baseline tool-bound (${fmt(base.toolCpu * 100)}% of a core)`);
    if (r.toolCpu >= 0.9) flags.push(`tool-bound (${fmt(r.toolCpu * 100)}% of a core)`);
    out.push({ tool: r.tool, target: r.target, rpsRatio: r.rps / base.rps, p99Ratio: r.p99Ms / base.p99Ms, ...(flags.length ? { flag: flags.join("; ") } : {}) });
  }
  return out;
}

export function ratioLines(list: Ratio[]): string {
  return list.map((x) => `ratio ${x.tool} ${x.target}: redirect-hot / baseline = ${x.rpsRatio.toFixed(2)}× req/s, ${x.p99Ratio.toFixed(2)}× p99` +
    (x.flag ? `  [DOES NOT COUNT: ${x.flag}]` : "")).join("\n");
}

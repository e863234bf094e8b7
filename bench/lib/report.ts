/** The one table, the ratio lines and the JSON file every run produces. */
import type { LoadResult, Tool } from "./load.ts";

export interface Row extends LoadResult {
  scenario: string;
  target: string;
  /** pgbench: a ceiling row (pgbench.ts), PostgreSQL alone running a write path's SQL. */
  tool: Tool | "pgbench";
  /** RSS of each instance behind the target after the run (MB). */
  rssMb: number[];
  /** CPU the server processes used, in cores (sum over the instances). */
  serverCpu: number;
  /** Seconds the click consumers took to catch up after the measurement (0 without Redis). */
  drainS?: number;
  /** Which repetition of the whole sequence (--rounds). */
  round?: number;
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "-");

export function table(rows: Row[]): string {
  const head = ["round", "scenario", "target", "tool", "req/s", "p50 ms", "p99 ms", "non-2xx/3xx", "unexpected", "errors", "tool cpu", "srv cpu", "drain s", "RSS MB"];
  const body = rows.map((r) => [
    String(r.round ?? 1), r.scenario, r.target, r.tool, fmt(r.rps), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), String(r.non23), String(r.unexpected), String(r.errors),
    `${fmt(r.toolCpu * 100)}%`, fmt(r.serverCpu, 2), fmt(r.drainS ?? NaN, 1), r.rssMb.map((m) => fmt(m)).join("/"),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => "| " + cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |";
  return [line(head), "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|", ...body.map(line)].join("\n");
}

export interface Ratio {
  tool: Row["tool"];
  target: string;
  /** The row it is compared with: the matching bare-Bun baseline, or the clicks-off instance. */
  over: string;
  rpsRatio: number;
  p99Ratio: number;
  /** Why the ratio does not count, if it does not. */
  flag?: string;
  round?: number;
}

// The issue's targets: each linkfort target over its baseline, and clicks on over clicks off.
const PAIRS = [["direct", "baseline-direct"], ["caddy", "baseline-caddy"], ["direct", "direct-clicks-off"]] as const;

/** redirect-hot on each linkfort target over the row it is judged against, per tool. */
export function ratios(rows: Row[]): Ratio[] {
  const out: Ratio[] = [];
  const hot = rows.filter((x) => x.scenario === "redirect-hot");
  for (const tool of new Set(hot.map((x) => x.tool))) {
    for (const [target, over] of PAIRS) {
      const r = hot.find((x) => x.tool === tool && x.target === target);
      const base = hot.find((x) => x.tool === tool && x.target === over);
      if (!r || !base) continue;
      const flags: string[] = [];
      // One autocannon/wrk thread near a full core: it, not the server, set the rate.
      if (base.toolCpu >= 0.9) flags.push(`${over} tool-bound (${fmt(base.toolCpu * 100)}% of a core)`);
      if (r.toolCpu >= 0.9) flags.push(`tool-bound (${fmt(r.toolCpu * 100)}% of a core)`);
      out.push({ tool, target, over, rpsRatio: r.rps / base.rps, p99Ratio: r.p99Ms / base.p99Ms, ...(flags.length ? { flag: flags.join("; ") } : {}) });
    }
  }
  return out;
}

export function ratioLines(list: Ratio[]): string {
  return list.map((x) => `${x.round ? `round ${x.round} ` : ""}ratio ${x.tool} redirect-hot ${x.target} / ${x.over} = ${x.rpsRatio.toFixed(2)}× req/s, ${x.p99Ratio.toFixed(2)}× p99` +
    (x.flag ? `  [DOES NOT COUNT: ${x.flag}]` : "")).join("\n");
}

/**
 * redirect-404 over redirect-hot on the same target, tool and round: what an unknown code costs
 * against a hit (the issue's target: at least 0.8× req/s with clicks off, direct-clicks-off).
 */
export function unknownCodeLines(rows: Row[]): string {
  const lines: string[] = [];
  for (const r of rows.filter((x) => x.scenario === "redirect-404")) {
    const hot = rows.find((x) => x.scenario === "redirect-hot" && x.tool === r.tool && x.target === r.target && x.round === r.round);
    if (!hot) continue;
    lines.push(`${r.round ? `round ${r.round} ` : ""}ratio ${r.tool} redirect-404 / redirect-hot ${r.target} = ${(r.rps / hot.rps).toFixed(2)}× req/s, ${(r.p99Ms / hot.p99Ms).toFixed(2)}× p99`);
  }
  return lines.join("\n");
}

/**
 * Each redirect-hot variant (redirect-hot-options, -expiry, -agent) over redirect-hot on the same
 * target, tool and round: what issue #18's options cost a hit (an expiry judged on every answer, a
 * browser's user agent). Target for redirect-hot-options: ≥ 0.95×.
 */
export function variantLines(rows: Row[]): string {
  const lines: string[] = [];
  for (const r of rows.filter((x) => x.scenario.startsWith("redirect-hot-"))) {
    const hot = rows.find((x) => x.scenario === "redirect-hot" && x.tool === r.tool && x.target === r.target && x.round === r.round);
    if (!hot) continue;
    const flag = r.toolCpu >= 0.9 || hot.toolCpu >= 0.9 ? "  [DOES NOT COUNT: tool-bound]" : "";
    lines.push(`${r.round ? `round ${r.round} ` : ""}ratio ${r.tool} ${r.scenario} / redirect-hot ${r.target} = ${(r.rps / hot.rps).toFixed(2)}× req/s, ${(r.p99Ms / hot.p99Ms).toFixed(2)}× p99${flag}`);
  }
  return lines.join("\n");
}

/** Per ratio over the rounds: lowest, median and highest, counting only rounds where it counts. */
export function ratioSpread(list: Ratio[]): string {
  const groups = new Map<string, Ratio[]>();
  for (const x of list) {
    const key = `${x.tool} redirect-hot ${x.target} / ${x.over}`;
    groups.set(key, [...(groups.get(key) ?? []), x]);
  }
  const median = (v: number[]) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]!; };
  return [...groups].map(([key, xs]) => {
    const counted = xs.filter((x) => !x.flag);
    const rps = counted.map((x) => x.rpsRatio);
    const p99 = counted.map((x) => x.p99Ratio);
    if (rps.length === 0) return `spread ${key}: no round counts`;
    return `spread ${key}: req/s ${Math.min(...rps).toFixed(2)}–${Math.max(...rps).toFixed(2)}× (median ${median(rps).toFixed(2)}), ` +
      `p99 ${Math.min(...p99).toFixed(2)}–${Math.max(...p99).toFixed(2)}× (median ${median(p99).toFixed(2)}), ${counted.length}/${xs.length} rounds count`;
  }).join("\n");
}

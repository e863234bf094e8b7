/**
 * The monitoring/ files as data, for the static and the live tests: rules, promtool tests,
 * dashboard targets, and an alert expression without its threshold.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "../..");
export const MONITORING = join(ROOT, "monitoring");

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RecordingRule { record: string; expr: string }
type Rule = AlertRule | RecordingRule;

export const yamlFile = (path: string) => Bun.YAML.parse(readFileSync(path, "utf8")) as unknown;
export const filesIn = (folder: string, ext: string) =>
  readdirSync(join(MONITORING, folder)).filter((f) => f.endsWith(ext)).sort().map((f) => join(MONITORING, folder, f));

export function allRules(): Rule[] {
  return filesIn("rules", ".yml").flatMap((file) =>
    (yamlFile(file) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules));
}
export const alertRules = () => allRules().filter((r): r is AlertRule => "alert" in r);
export const recordingRules = () => allRules().filter((r): r is RecordingRule => "record" in r);

export interface PromtoolTests {
  alertTests: { alertname: string; firing: boolean }[];
  exprTests: string[];
}

/** Every alert_rule_test (fires or not) and promql_expr_test expression in monitoring/tests. */
export function promtoolTests(): PromtoolTests {
  const out: PromtoolTests = { alertTests: [], exprTests: [] };
  for (const file of filesIn("tests", ".yml")) {
    const { tests } = yamlFile(file) as { tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[]; promql_expr_test?: { expr: string }[] }[] };
    for (const t of tests) {
      for (const a of t.alert_rule_test ?? []) out.alertTests.push({ alertname: a.alertname, firing: (a.exp_alerts ?? []).length > 0 });
      for (const e of t.promql_expr_test ?? []) out.exprTests.push(e.expr);
    }
  }
  return out;
}

export interface DashboardTarget { panel: string; expr: string }

interface Panel { type: string; title: string; targets?: { expr?: string }[]; panels?: Panel[] }

export const dashboardFiles = () => filesIn("grafana/dashboards", ".json");

/** Every panel of a dashboard (rows' nested panels too), rows themselves left out. */
export function panelsOf(file: string): Panel[] {
  const flat = (list: Panel[]): Panel[] => list.flatMap((p) => (p.type === "row" ? flat(p.panels ?? []) : [p]));
  return flat((JSON.parse(readFileSync(file, "utf8")) as { panels: Panel[] }).panels);
}

export const dashboardTargets = (): DashboardTarget[] =>
  dashboardFiles().flatMap((file) => panelsOf(file).flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? "" }))));

/** Grafana's variables as a query to Prometheus needs them: concrete windows. */
export const withoutGrafanaVariables = (expr: string, window = "1m") =>
  expr.replaceAll("$__rate_interval", window).replaceAll("$__interval", window).replaceAll("$__range", window);

/**
 * An alert's expression without its final comparison with a number (`… > 26 * 3600`), or null
 * when it does not end with one. What is left is the signal the alert watches.
 */
export function withoutThreshold(expr: string): string | null {
  const m = /^([\s\S]*?)\s*(?:==|!=|>=|<=|>|<)\s*(?:bool\s+)?[-+*/().\deE\s]+$/.exec(expr.trim());
  if (!m) return null;
  const rest = m[1]!;
  const balanced = [...rest].reduce((depth, c) => depth + (c === "(" ? 1 : c === ")" ? -1 : 0), 0) === 0;
  return balanced ? rest : null;
}

/** GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to dashes. */
export const anchorOf = (heading: string) => heading.trim().toLowerCase().replace(/[^\w\- ]/g, "").replaceAll(" ", "-");

export function headingAnchors(markdownFile: string): Set<string> {
  const headings = readFileSync(markdownFile, "utf8").split("\n").filter((l) => /^#{1,6} /.test(l)).map((l) => l.replace(/^#+ /, ""));
  return new Set(headings.map(anchorOf));
}

/**
 * monitoring/ checked without running anything but the Debian tools: Prometheus and Alertmanager
 * accept the files, promtool's unit tests pass and cover every rule both ways, every alert says
 * what it means and where its runbook is, and every dashboard panel has a query.
 */
import { describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  MONITORING, ROOT, alertRules, anchorOf, dashboardFiles, filesIn, headingAnchors, panelsOf, promtoolTests, recordingRules, withoutThreshold, yamlFile,
} from "./files.ts";
import { requireTool } from "../../service/test/tools.ts";
import { run } from "./tools.ts";

const SCRIPT = join(ROOT, "deploy/monitoring.sh");
const render = (...args: string[]) => run(["bash", SCRIPT, ...args]);

describe("Prometheus files", () => {
  test("promtool accepts prometheus.yml with its rule files", () => {
    const result = run([requireTool("promtool"), "check", "config", join(MONITORING, "prometheus.yml")]);
    expect(result.code, result.output).toBe(0);
    // rule_files reaches every rule file: promtool checks each one it loads.
    const found = [...result.output.matchAll(/SUCCESS: (\d+) rules found/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(found, result.output).toBe(alertRules().length + recordingRules().length);
  });

  test("promtool accepts every rule file", () => {
    const result = run([requireTool("promtool"), "check", "rules", ...filesIn("rules", ".yml")]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).not.toContain("FAILED");
  });

  test("promtool's unit tests pass", () => {
    const result = run([requireTool("promtool"), "test", "rules", ...filesIn("tests", ".yml")]);
    expect(result.code, result.output).toBe(0);
    expect(result.output.match(/SUCCESS/g)?.length).toBe(filesIn("tests", ".yml").length);
  }, 60_000);

  test("the rendered prometheus.yml scrapes the given instance ports and is otherwise the file itself", () => {
    const rendered = render("render-prometheus", "8081", "8082", "8083", "8084");
    expect(rendered.code, rendered.output).toBe(0);
    const original = readFileSync(join(MONITORING, "prometheus.yml"), "utf8");
    expect(rendered.output).toBe(original.replace(
      /\["127\.0\.0\.1:8081", "127\.0\.0\.1:8082", "127\.0\.0\.1:8083"\]  # INSTANCE_PORTS/,
      `["127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083", "127.0.0.1:8084"]  # INSTANCE_PORTS`,
    ));
    expect(render("render-prometheus").code).not.toBe(0);
    expect(render("render-prometheus", "80x1").code).not.toBe(0);
  });
});

describe("alert rules", () => {
  const alerts = alertRules();
  const tests = promtoolTests();

  test("every alert has a severity, a summary, a description and a runbook section that exists in docs/ALERTS.md", () => {
    const anchors = headingAnchors(join(ROOT, "docs/ALERTS.md"));
    const problems = alerts.flatMap((a) => {
      const p: string[] = [];
      if (!["critical", "warning"].includes(a.labels?.severity ?? "")) p.push(`${a.alert}: severity "${a.labels?.severity}"`);
      for (const key of ["summary", "description", "runbook"]) if (!a.annotations?.[key]) p.push(`${a.alert}: no ${key}`);
      const runbook = /^docs\/ALERTS\.md#(.+)$/.exec(a.annotations?.runbook ?? "");
      if (!runbook || !anchors.has(runbook[1]!)) p.push(`${a.alert}: runbook "${a.annotations?.runbook}" is no heading of docs/ALERTS.md`);
      else if (runbook[1] !== anchorOf(a.alert)) p.push(`${a.alert}: runbook points at another alert's section (${runbook[1]})`);
      return p;
    });
    expect(problems).toEqual([]);
    expect(alerts.length).toBeGreaterThanOrEqual(15);
  });

  test("every alert has a promtool test where it fires and one where it does not", () => {
    const missing = alerts.flatMap((a) => [true, false]
      .filter((firing) => !tests.alertTests.some((t) => t.alertname === a.alert && t.firing === firing))
      .map((firing) => `${a.alert} (${firing ? "firing" : "not firing"})`));
    expect(missing).toEqual([]);
    const unknown = tests.alertTests.map((t) => t.alertname).filter((name) => !alerts.some((a) => a.alert === name));
    expect(unknown).toEqual([]);
  });

  test("every recording rule is checked by a promtool expression test", () => {
    const untested = recordingRules().map((r) => r.record).filter((name) => !tests.exprTests.some((e) => e.includes(name)));
    expect(untested).toEqual([]);
  });

  test("every alert ends with its threshold, so the live test can query what it watches", () => {
    expect(alerts.filter((a) => withoutThreshold(a.expr) === null).map((a) => a.alert)).toEqual([]);
    expect(withoutThreshold("time() - (x > 0) > 26 * 3600")).toBe("time() - (x > 0)");
    expect(withoutThreshold('predict_linear(a{fstype!~"tmpfs"}[6h], 24 * 3600) < 0')).toBe('predict_linear(a{fstype!~"tmpfs"}[6h], 24 * 3600)');
  });

  test("alert names are unique", () => {
    const names = alerts.map((a) => a.alert);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });
});

describe("Alertmanager files", () => {
  /** The rendered config beside its template, the way monitoring.sh installs them. */
  function checkRendered(...args: string[]) {
    const dir = mkdtempSync(join(tmpdir(), "linkfort-am-"));
    try {
      const rendered = render("render-alertmanager", ...args);
      expect(rendered.code, rendered.output).toBe(0);
      writeFileSync(join(dir, "alertmanager.yml"), rendered.output);
      copyFileSync(join(MONITORING, "linkfort-discord.tmpl"), join(dir, "linkfort-discord.tmpl"));
      const result = run([requireTool("amtool"), "check-config", join(dir, "alertmanager.yml")]);
      expect(result.code, result.output).toBe(0);
      return rendered.output;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test("amtool accepts alertmanager.yml as shipped", () => {
    const result = run([requireTool("amtool"), "check-config", join(MONITORING, "alertmanager.yml")]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain("2 receivers");
  });

  test("with a webhook URL every receiver sends to it (an & in the URL survives)", () => {
    const url = "https://discord.com/api/webhooks/123/abc&def";
    const config = yamlFile(join(MONITORING, "alertmanager.yml")) as { receivers: { name: string }[] };
    const rendered = Bun.YAML.parse(checkRendered(url)) as { receivers: { name: string; discord_configs?: { webhook_url: string }[] }[] };
    expect(rendered.receivers.map((r) => [r.name, r.discord_configs?.map((d) => d.webhook_url)]))
      .toEqual(config.receivers.map((r) => [r.name, [url]]));
  });

  test("without a webhook URL the receivers keep their names and send nothing", () => {
    const rendered = Bun.YAML.parse(checkRendered()) as { receivers: { name: string; discord_configs?: unknown }[] };
    expect(rendered.receivers).toEqual([{ name: "discord-critical" }, { name: "discord-warning" }]);
  });

  test("a webhook URL that is not https, or would break the YAML, is refused", () => {
    for (const bad of ["http://discord.com/api/webhooks/1/x", 'https://discord.com/x"y', "https://discord.com/x y"]) {
      const result = render("render-alertmanager", bad);
      expect(result.code, bad).not.toBe(0);
      expect(result.output).toContain("DISCORD_WEBHOOK_URL must be an https:// URL");
    }
  });

  test("inhibition rules name alerts that exist", () => {
    const { inhibit_rules } = yamlFile(join(MONITORING, "alertmanager.yml")) as { inhibit_rules: { source_matchers: string[]; target_matchers: string[] }[] };
    const names = new Set(alertRules().map((a) => a.alert));
    const named = inhibit_rules.flatMap((r) => [...r.source_matchers, ...r.target_matchers])
      .flatMap((m) => /^alertname=~?"(.*)"$/.exec(m)?.[1]?.split("|") ?? []);
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((n) => !names.has(n))).toEqual([]);
  });
});

describe("Grafana files", () => {
  test("every dashboard panel has at least one query and uses the provisioned datasource", () => {
    const datasources = yamlFile(join(MONITORING, "grafana/provisioning/datasources/linkfort.yml")) as { datasources: { uid: string }[] };
    const uid = datasources.datasources[0]!.uid;
    for (const file of dashboardFiles()) {
      const panels = panelsOf(file) as unknown as { title: string; datasource?: { uid: string }; targets?: { expr?: string; datasource?: { uid: string } }[] }[];
      expect(panels.length).toBeGreaterThan(10);
      const bad = panels.filter((p) => !p.targets?.length || p.targets.some((t) => !t.expr?.trim() || t.datasource?.uid !== uid) || p.datasource?.uid !== uid);
      expect(bad.map((p) => p.title)).toEqual([]);
    }
  });

  test("panel ids are unique and the dashboard has a fixed uid the provisioning can keep", () => {
    for (const file of dashboardFiles()) {
      const dashboard = JSON.parse(readFileSync(file, "utf8")) as { uid?: string; panels: { id: number }[] };
      const ids = dashboard.panels.map((p) => p.id);
      expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
      expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    }
  });

  test("the dashboard provider points at the dashboards of the active release", () => {
    const provider = yamlFile(join(MONITORING, "grafana/provisioning/dashboards/linkfort.yml")) as { providers: { options: { path: string } }[] };
    expect(provider.providers[0]!.options.path).toBe("/opt/linkfort/current/monitoring/grafana/dashboards");
  });
});

describe("deploy/monitoring.sh", () => {
  test("is shellcheck-clean", () => {
    const result = run([requireTool("shellcheck"), "-x", SCRIPT], { cwd: join(ROOT, "deploy") });
    expect(result.code, result.output).toBe(0);
  }, 30_000);
});

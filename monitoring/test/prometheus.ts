/**
 * A real Prometheus for the live test: monitoring/prometheus.yml as deploy/monitoring.sh renders
 * it, with the contract's fixed ports moved to the test's random ones and a 1 s scrape and rule
 * interval; plus its HTTP API.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MONITORING, ROOT } from "./files.ts";
import { run } from "./tools.ts";

interface ScrapeConfig { job_name: string; static_configs: { targets: string[] }[] }
interface PrometheusConfig {
  global: Record<string, string>;
  rule_files: string[];
  alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
  scrape_configs: ScrapeConfig[];
}

/**
 * The config for instances on `instancePorts`, every other contract port (9100, 2019, …) mapped
 * through `ports`. A target the map does not know fails: each job must be scraped for real.
 */
export function testConfig(instancePorts: number[], ports: Record<number, number>): { config: PrometheusConfig; jobs: string[] } {
  const rendered = run(["bash", join(ROOT, "deploy/monitoring.sh"), "render-prometheus", ...instancePorts.map(String)]);
  if (rendered.code !== 0) throw new Error(`render-prometheus failed: ${rendered.output}`);
  const config = Bun.YAML.parse(rendered.output) as PrometheusConfig;
  const instances = new Set(instancePorts.map((p) => `127.0.0.1:${p}`));
  const move = (target: string) => {
    if (instances.has(target)) return target;
    const port = ports[Number(target.replace("127.0.0.1:", ""))];
    if (!port) throw new Error(`prometheus.yml scrapes ${target}, which the live test does not run`);
    return `127.0.0.1:${port}`;
  };
  config.global = { ...config.global, scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" };
  config.rule_files = [join(MONITORING, "rules/*.yml")];
  for (const am of config.alerting.alertmanagers) for (const sc of am.static_configs) sc.targets = sc.targets.map(move);
  for (const job of config.scrape_configs) for (const sc of job.static_configs) sc.targets = sc.targets.map(move);
  return { config, jobs: config.scrape_configs.map((j) => j.job_name) };
}

/** Writes the config (JSON is YAML) into a fresh folder and returns the argv to run Prometheus on `port`. */
export function prometheusArgv(bin: string, config: unknown, port: number): { argv: string[]; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "linkfort-prom-"));
  writeFileSync(join(dir, "prometheus.yml"), JSON.stringify(config, null, 2));
  return {
    dir,
    argv: [bin, `--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
  };
}

export interface Series { metric: Record<string, string>; values?: [number, string][]; value?: [number, string] }

export function prometheusApi(base: string) {
  async function get<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const res = await fetch(`${base}${path}?${new URLSearchParams(params)}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== "success") throw new Error(`${path} ${JSON.stringify(params)}: ${body.error ?? res.status}`);
    return body.data;
  }
  return {
    query: async (expr: string) => (await get<{ result: Series[] }>("/api/v1/query", { query: expr })).result,
    /** Every series over [start, end] (seconds) at a 1 s step. */
    queryRange: async (expr: string, start: number, end: number) =>
      (await get<{ result: Series[] }>("/api/v1/query_range", { query: expr, start: String(start), end: String(end), step: "1" })).result,
    targets: async () => (await get<{ activeTargets: { labels: Record<string, string>; health: string; lastError: string; scrapeUrl: string }[] }>("/api/v1/targets")).activeTargets,
    rules: async () => (await get<{ groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] }>("/api/v1/rules")).groups,
    alertmanagers: async () => (await get<{ activeAlertmanagers: { url: string }[] }>("/api/v1/alertmanagers")).activeAlertmanagers,
  };
}

export type PrometheusApi = ReturnType<typeof prometheusApi>;

/** True when some series has at least one sample that is a real number (not NaN or ±Inf). */
export const hasNumbers = (result: Series[]) =>
  result.some((s) => (s.values ?? (s.value ? [s.value] : [])).some(([, v]) => Number.isFinite(Number(v))));

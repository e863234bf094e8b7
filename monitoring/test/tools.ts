/**
 * The Debian binaries the monitoring tests run. Locally a missing one skips the tests that need
 * it (with a message); with CI=true it fails them, because CI installs them all.
 */
const inCi = process.env.CI === "true";

export const TOOLS = {
  promtool: "prometheus",
  prometheus: "prometheus",
  amtool: "prometheus-alertmanager",
  "prometheus-alertmanager": "prometheus-alertmanager",
  "prometheus-postgres-exporter": "prometheus-postgres-exporter",
  "prometheus-redis-exporter": "prometheus-redis-exporter",
  "prometheus-node-exporter": "prometheus-node-exporter",
  shellcheck: "shellcheck",
  psql: "postgresql-client",
  "redis-server": "redis-server",
  caddy: "caddy",
} as const;
export type Tool = keyof typeof TOOLS;

/** True when the tests needing these tools should be skipped (locally, some are missing). */
export function skipWithout(...tools: Tool[]): boolean {
  const missing = tools.filter((t) => Bun.which(t) === null);
  if (missing.length === 0 || inCi) return false;
  console.warn(`skipping: ${missing.join(", ")} not on PATH (apt-get install ${[...new Set(missing.map((t) => TOOLS[t]))].join(" ")})`);
  return true;
}

/** The tool's path, or a failure naming the package to install. */
export function tool(name: Tool): string {
  const path = Bun.which(name);
  if (!path) throw new Error(`${name} is not on PATH: apt-get install ${TOOLS[name]}`);
  return path;
}

/** Runs a command to its end; stdout and stderr together, for failure messages. */
export function run(argv: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): { code: number; output: string } {
  const proc = Bun.spawnSync(argv, { cwd: opts.cwd, env: opts.env ?? (process.env as Record<string, string>), stdout: "pipe", stderr: "pipe" });
  return { code: proc.exitCode, output: proc.stdout.toString() + proc.stderr.toString() };
}

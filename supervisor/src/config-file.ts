/**
 * @module `--config FILE.toml`: the supervisor's settings as a TOML file Bun parses natively,
 * keyed by the same names as the environment (INSTANCE_PORTS = "8081-8083",
 * PROBE_INTERVAL_MS = 1000). The values then go through the one validation in config.ts, with
 * the environment and flags taking precedence, so there is one source of rules.
 */
import { supervisorSettings } from "./config.ts";

const KNOWN = new Set(Object.values(supervisorSettings).map((s) => s.env));

/** Reads the file into env-style strings; throws naming unknown keys and unusable values. */
export async function readConfigFile(path: string): Promise<Record<string, string>> {
  const parsed = Bun.TOML.parse(await Bun.file(path).text()) as Record<string, unknown>;
  const out: Record<string, string> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(parsed)) {
    if (!KNOWN.has(key)) problems.push(`${key}: not a supervisor setting`);
    else if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") out[key] = String(value);
    else if (Array.isArray(value) && value.every((v) => typeof v === "number" || typeof v === "string")) out[key] = value.join(",");
    else problems.push(`${key}: must be a string, number, boolean or list of ports`);
  }
  if (problems.length > 0) throw new Error(`${path}:\n  ${problems.join("\n  ")}`);
  return out;
}

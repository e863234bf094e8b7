/**
 * Typed configuration readers shared by the service and the supervisor.
 *
 * A config file declares each setting once (env name, flag, type, default, doc). `readConfig`
 * takes values from the environment, lets `--flag value` / `--flag=value` override them, and
 * collects every invalid value, so a bad start names all the culprits at once.
 */
import { DatabaseUrlError, parseDatabaseUrl, redactDatabaseUrl, serviceUrlProblem } from "./database-url.ts";

export type Parser<T> = (raw: string) => T | ConfigProblem;

export class ConfigProblem {
  constructor(readonly reason: string) {}
}

export interface Setting<T> {
  /** Environment variable name, e.g. PORT. */
  env: string;
  /** Long flag without dashes, e.g. "port"; defaults to the env name in kebab-case. */
  flag?: string;
  parse: Parser<T>;
  /** Used when neither the environment nor a flag sets it; `undefined` makes the setting optional. */
  default: T;
  doc: string;
  /** The value carries a secret (a password, a token in a URL path): messages show it redacted. */
  secret?: boolean;
}

export type Settings = Record<string, Setting<unknown>>;
export type ConfigOf<S extends Settings> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

export const flagName = (s: Setting<unknown>) => s.flag ?? s.env.toLowerCase().replaceAll("_", "-");

/** Parses `--name value` and `--name=value` pairs; anything else is left for the caller. */
export function parseFlags(argv: readonly string[]): { flags: Map<string, string>; rest: string[] } {
  const flags = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--") || arg === "--") { rest.push(arg); continue; }
    const eq = arg.indexOf("=");
    if (eq > 0) { flags.set(arg.slice(2, eq), arg.slice(eq + 1)); continue; }
    const next = argv[i + 1];
    if (next === undefined || next.startsWith("--")) { flags.set(arg.slice(2), "true"); continue; }
    flags.set(arg.slice(2), next);
    i++;
  }
  return { flags, rest };
}

export function readConfig<S extends Settings>(
  settings: S,
  env: Record<string, string | undefined>,
  flags: Map<string, string> = new Map(),
): ConfigOf<S> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  const known = new Set(Object.values(settings).map(flagName));
  for (const name of flags.keys()) if (!known.has(name)) problems.push(`--${name}: unknown flag`);
  for (const [key, setting] of Object.entries(settings)) {
    const fromFlag = flags.get(flagName(setting));
    const raw = fromFlag ?? env[setting.env];
    if (raw === undefined || raw === "") { out[key] = setting.default; continue; }
    const value = setting.parse(raw);
    if (value instanceof ConfigProblem) {
      const source = fromFlag !== undefined ? `--${flagName(setting)}` : setting.env;
      problems.push(`${source}=${redactValue(raw, setting.secret ?? false)}: ${value.reason}`);
    } else out[key] = value;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}

/**
 * A setting's value as a message may show it, quoted. Any URL loses its password (userinfo and a
 * `password` query parameter); a secret setting's URL also loses its path and query (a webhook's
 * token lives there) and anything that is not a URL is not shown at all.
 */
export function redactValue(raw: string, secret: boolean): string {
  // A multi-host PostgreSQL URL is no WHATWG URL: redacted by its own parser, hosts kept (they say which cluster).
  if (/^postgres(ql)?:\/\/[^/?#]*,/.test(raw)) {
    try {
      const shown = redactDatabaseUrl(raw);
      return JSON.stringify(secret ? shown.replace(/^([^/]*\/\/[^/?#]*)[/?#].*$/s, "$1/***") : shown);
    } catch { /* not readable: below */ }
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return secret ? `<redacted, ${raw.length} characters>` : JSON.stringify(raw);
  }
  if (!url.host) return secret ? `<redacted, ${raw.length} characters>` : JSON.stringify(raw);
  const hasPassword = url.password !== "" || url.searchParams.has("password");
  if (!secret && !hasPassword) return JSON.stringify(raw);
  if (url.password) url.password = "***";
  url.searchParams.delete("password");
  if (!secret) return JSON.stringify(url.toString());
  const path = url.pathname === "/" || url.pathname === "" ? "" : "/***";
  return JSON.stringify(`${url.protocol}//${url.username ? `${url.username}${url.password ? ":***" : ""}@` : ""}${url.host}${path}`);
}

export const str: Parser<string> = (raw) => raw;

export const int = (min: number, max: number): Parser<number> => (raw) => {
  if (!/^-?\d+$/.test(raw.trim())) return new ConfigProblem(`must be a whole number between ${min} and ${max}`);
  const n = Number(raw);
  return n >= min && n <= max ? n : new ConfigProblem(`must be between ${min} and ${max}`);
};

export const oneOf = <T extends string>(...values: T[]): Parser<T> => (raw) =>
  (values as string[]).includes(raw) ? (raw as T) : new ConfigProblem(`must be one of ${values.join(", ")}`);

export const bool: Parser<boolean> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  return new ConfigProblem("must be true or false");
};

/** One host or several (`h1:5432,h2:5432/db?target_session_attrs=read-write`, a cluster): see database-url.ts. */
export const postgresUrl: Parser<string> = (raw) => {
  try {
    const problem = serviceUrlProblem(parseDatabaseUrl(raw));
    return problem ? new ConfigProblem(problem) : raw;
  } catch (error) {
    return new ConfigProblem(error instanceof DatabaseUrlError ? error.message : "must be a postgres:// or postgresql:// URL");
  }
};

export const optional = <T>(parse: Parser<T>): Parser<T | undefined> => parse;

/** Text for `--help`: one line per setting with its env name, flag, default and doc. */
export function describeSettings(settings: Settings): string {
  return Object.values(settings)
    .map((s) => `  --${flagName(s).padEnd(22)} ${s.env.padEnd(26)} ${s.doc}${s.default === undefined ? "" : ` (default ${JSON.stringify(s.default)})`}`)
    .join("\n");
}

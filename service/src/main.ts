#!/usr/bin/env bun
/**
 * The linkfort binary: `serve` (default) | `migrate` | `import FILE…` | `keys …` | `version`.
 * Configuration comes from the environment; `serve` also takes each setting as a --flag.
 */
import { loadServiceConfig, serviceSettings, type ServiceConfig } from "./config.ts";
import { resolveDatabase } from "./database.ts";
import { connect } from "./db/client.ts";
import { migrate } from "./db/migrate.ts";
import { ConfigError, describeSettings, parseFlags } from "./lib/env.ts";
import { createLogger, type Logger } from "./lib/logger.ts";
import { serve } from "./serve.ts";
import { VERSION } from "./lib/version.ts";

const USAGE = `linkfort ${VERSION}: self-hosted URL shortener

usage:
  linkfort [serve] [--flag value …]   run the HTTP server (default)
  linkfort migrate                    apply database migrations and exit
  linkfort import FILE.csv …          load users/urls/events CSV files (table detected from the header)
  linkfort keys create --name NAME [--scope admin|user] [--user-id N]
  linkfort keys list
  linkfort keys revoke ID
  linkfort spool status [DIR]         what the click spool holds (offline; with the database also what is unshipped)
  linkfort clicks drain-stream        write the clicks left in the Redis stream of releases before the spool, then delete it
  linkfort version

settings (flag, environment variable, meaning):
${describeSettings(serviceSettings)}
`;

type Command = (config: ServiceConfig, logger: Logger, args: string[]) => Promise<number | "running">;

/** Runs `work` against the configured database, then closes everything it opened. */
async function withDatabase(config: ServiceConfig, logger: Logger, work: (io: ReturnType<typeof connect>) => Promise<number>): Promise<number> {
  const database = await resolveDatabase(config, logger);
  // Ctrl-C must not leave an embedded PostgreSQL behind.
  const interrupted = (signal: NodeJS.Signals) => () => { void database.release().finally(() => process.exit(signal === "SIGINT" ? 130 : 143)); };
  process.once("SIGINT", interrupted("SIGINT"));
  process.once("SIGTERM", interrupted("SIGTERM"));
  const io = connect({ url: database.url, poolMax: 4, statementTimeoutMs: 0, applicationName: "linkfort-cli" });
  try {
    await migrate(io.sql);
    return await work(io);
  } finally {
    await io.sql.end({ timeout: 5 });
    await database.release();
  }
}

const out = (line: string) => process.stdout.write(line + "\n");

const commands: Record<string, Command> = {
  serve: async (config, logger) => { await serve(config, logger); return "running"; },
  migrate: (config, logger) => withDatabase(config, logger, async () => { out("migrations are up to date"); return 0; }),
  import: async (config, logger, args) => {
    if (args.length === 0) { process.stderr.write("usage: linkfort import FILE.csv …\n"); return 2; }
    const { runImportCommand } = await import("./imports/cli.ts");
    return withDatabase(config, logger, ({ sql, db }) => runImportCommand(args, { sql, db, logger, out }));
  },
  keys: async (config, logger, args) => {
    const { runKeysCommand } = await import("./keys/cli.ts");
    return withDatabase(config, logger, ({ sql, db }) => runKeysCommand(args, { sql, db, out }));
  },
  version: async () => { out(VERSION); return 0; },
  spool: async (config, _logger, args) => {
    const { runSpoolCommand } = await import("./clicks/spool-cli.ts");
    return runSpoolCommand(args, { config, out });
  },
  clicks: async (config, logger, args) => {
    const { runClicksCommand } = await import("./clicks/cli.ts");
    return withDatabase(config, logger, ({ sql }) => runClicksCommand(args, { config, sql, out }));
  },
};

async function main(argv: string[]): Promise<void> {
  const first = argv[0];
  if (first === "help" || first === "--help" || first === "-h") { out(USAGE); return; }
  if (first === "--version") { out(VERSION); return; }
  const name = first === undefined || first.startsWith("--") ? "serve" : first;
  const command = commands[name];
  if (!command) { process.stderr.write(`unknown command "${name}"\n\n${USAGE}`); process.exit(2); }
  const args = name === first ? argv.slice(1) : argv;

  // Only `serve` takes settings as flags; the other commands' flags are their own.
  const { flags, rest } = name === "serve" ? parseFlags(args) : { flags: new Map<string, string>(), rest: args };
  let config: ServiceConfig;
  try {
    config = loadServiceConfig(process.env, flags);
  } catch (err) {
    if (err instanceof ConfigError) { process.stderr.write(`linkfort: ${err.message}\n`); process.exit(2); }
    throw err;
  }
  if (name === "serve" && rest.length > 0) { process.stderr.write(`linkfort: unexpected arguments: ${rest.join(" ")}\n`); process.exit(2); }

  // CLI tools log only warnings, so their own output stays readable.
  const logger = createLogger(name === "serve" ? config.logLevel : "warn", { service: "linkfort" });
  try {
    const result = await command(config, logger, rest);
    if (result !== "running") process.exit(result);
  } catch (error) {
    logger.error("fatal", { command: name, error });
    process.stderr.write(`linkfort ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

await main(process.argv.slice(2));

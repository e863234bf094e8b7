/**
 * `linkfort keys create|list|revoke|bootstrap`: the same service as /admin/keys, for an operator at the
 * console (who may do what an admin key may). Exit codes: 0 done, 1 failed, 2 bad arguments.
 */
import { parseArgs } from "node:util";
import type { Db, Sql } from "../db/client.ts";
import { OPEN_PRINCIPAL } from "../http/auth.ts";
import { ApiError } from "../http/errors.ts";
import { isDbId } from "../http/params.ts";
import { silentLogger } from "../lib/logger.ts";
import { apiKeyJson, type KeyScope } from "./model.ts";
import { createKeysRepo } from "./repo.ts";
import { createKeysService, type KeysService } from "./service.ts";

export const KEYS_USAGE = `usage:
  linkfort keys create --name NAME [--scope admin|user] [--user-id N]
      prints the new key once; --scope defaults to user when --user-id is given, else admin
  linkfort keys list
  linkfort keys revoke ID
  linkfort keys bootstrap
      on a database that never had an admin key (revoked ones count), creates one and prints it
      alone on a line (the quick start's supervisor runs this for its banner); otherwise prints
      nothing: after revoking every admin key, make the next with "create"`;

export interface KeysCommandIo {
  sql: Sql;
  db: Db;
  out: (line: string) => void;
}

class UsageError extends Error {}

/** `args` are the words after `linkfort keys`. Returns the process exit code. */
export async function runKeysCommand(args: string[], io: KeysCommandIo): Promise<number> {
  const keys = createKeysService(createKeysRepo(io.db), { logger: silentLogger });
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "create": return await create(keys, rest, io.out);
      case "list": return await list(keys, rest, io.out);
      case "revoke": return await revoke(keys, rest, io.out);
      case "bootstrap": return await bootstrap(keys, rest, io.out);
      case "help": case "--help": case "-h": io.out(KEYS_USAGE); return 0;
      default: throw new UsageError(command === undefined ? "missing command" : `unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError || (err instanceof ApiError && err.status === 400)) {
      io.out(`linkfort keys: ${err.message}\n\n${KEYS_USAGE}`);
      return 2;
    }
    if (err instanceof ApiError) {
      io.out(`linkfort keys: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

function parse(args: string[], options: Record<string, { type: "string" }>) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function parseId(raw: string | undefined, what: string): number {
  const n = raw !== undefined && /^[1-9]\d{0,9}$/.test(raw) ? Number(raw) : NaN;
  if (!isDbId(n)) throw new UsageError(`${what} must be a positive integer, not ${raw === undefined ? "nothing" : `"${raw}"`}`);
  return n;
}

async function create(keys: KeysService, args: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parse(args, { name: { type: "string" }, scope: { type: "string" }, "user-id": { type: "string" } });
  if (positionals.length > 0) throw new UsageError(`unexpected arguments: ${positionals.join(" ")}`);
  const name = values.name?.trim() ?? "";
  if (name === "" || name.length > 100) throw new UsageError("--name is required: 1 to 100 characters");
  const userId = values["user-id"] === undefined ? undefined : parseId(values["user-id"], "--user-id");
  const scope = values.scope ?? (userId === undefined ? "admin" : "user");
  if (scope !== "admin" && scope !== "user") throw new UsageError(`--scope must be admin or user, not "${scope}"`);

  const { row, key } = await keys.create(OPEN_PRINCIPAL, { name, scope: scope satisfies KeyScope, user_id: userId });
  const owner = row.userId === null ? "" : ` for user ${row.userId}`;
  out(`created ${row.scope} key ${row.id} "${row.name}"${owner} (${row.prefix}…)`);
  out(`key: ${key}`);
  out("store it now: it cannot be shown again");
  return 0;
}

async function list(keys: KeysService, args: string[], out: (line: string) => void): Promise<number> {
  if (args.length > 0) throw new UsageError(`list takes no arguments, got: ${args.join(" ")}`);
  const rows = (await keys.list(OPEN_PRINCIPAL)).map(apiKeyJson);
  const table = [
    ["ID", "NAME", "SCOPE", "USER", "PREFIX", "CREATED", "LAST USED", "REVOKED"],
    // A name is free text: control characters would break the table or drive the terminal.
    ...rows.map((k) => [String(k.id), k.name.replace(/[\x00-\x1f\x7f]/g, "?"), k.scope, k.user_id === null ? "-" : String(k.user_id), k.prefix,
      k.created_at, k.last_used_at ?? "-", k.revoked_at ?? "-"]),
  ];
  const widths = table[0]!.map((_, col) => Math.max(...table.map((r) => r[col]!.length)));
  for (const r of table) out(r.map((cell, col) => cell.padEnd(widths[col]!)).join("  ").trimEnd());
  if (rows.length === 0) out("(no keys)");
  return 0;
}

async function revoke(keys: KeysService, args: string[], out: (line: string) => void): Promise<number> {
  if (args.length !== 1) throw new UsageError("revoke takes exactly one key id");
  const row = await keys.revoke(OPEN_PRINCIPAL, parseId(args[0], "ID"));
  out(`revoked key ${row.id} "${row.name}" (${row.prefix}…)`);
  return 0;
}

/** The same advisory-locked check as `serve`, so with instances starting at the same time there is still exactly one. */
async function bootstrap(keys: KeysService, args: string[], out: (line: string) => void): Promise<number> {
  if (args.length > 0) throw new UsageError(`bootstrap takes no arguments, got: ${args.join(" ")}`);
  const key = await keys.ensureBootstrapAdminKey();
  if (key) out(key);
  return 0;
}

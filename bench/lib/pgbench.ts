/**
 * The physical anchor of the write paths: pgbench sending PostgreSQL the SQL a write sends, on
 * the bench's own server (same settings, same durability), with as many clients as the load tool
 * has connections. What it reaches is the most a write path could do on this machine; run.ts
 * prints linkfort's create rate over it.
 *
 * - create: what one POST /urls sends, in order: the API key lookup (keys/repo.ts), the link
 *   insert itself (urls/statements.ts, the very string the service prepares) and the cache
 *   fence's NOTIFY (cache/invalidation.ts, here on a channel no instance listens to, so the
 *   running instances do not take pgbench for a peer). Codes are random numbers, never a
 *   generated code (six letters and digits), so they cannot collide with the service's.
 * - create-batched: the statement the service sends for a batch of concurrent creates
 *   (INSERT_URLS_SQL) and its one fence, from as many clients as the service keeps statements in
 *   flight, each batch as large as the load tool's connections spread over them. Its rate is in
 *   links per second: what coalesced creates could reach, where `create` is what one statement
 *   per create could. The arrays are made in SQL (pgbench has none), a little more work for the
 *   server than the service's parameters.
 * - clicks: one click-spool batch as clicks/repo.ts and offsets-repo.ts write it (advisory lock,
 *   spool position, owner and link locks, events plus the three rollups), `batch` clicks on
 *   random links, each pgbench client shipping its own spool. The click ids, times and details
 *   are made in SQL, so the statement text differs from the service's; the rows written are the same.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { INSERT_URLS_SQL, INSERT_URL_SQL } from "../../service/src/urls/statements.ts";
import { missingToolMessage, requireTool } from "../../service/test/tools.ts";

export type Ceiling = "create" | "create-batched" | "clicks";
export const CEILINGS: readonly Ceiling[] = ["create", "create-batched", "clicks"];

export interface PgbenchSpec {
  databaseUrl: string;
  clients: number;
  threads: number;
  duration: number;
  /** Links and users in the filled database (ids 1..n). */
  links: number;
  users: number;
  /** The admin key the load tools send (create looks its hash up, as the service does). */
  key: string;
  /** Clicks per batch (clicks). */
  batch: number;
  /** Statements in flight and links per statement (create-batched). */
  createClients: number;
  createBatch: number;
}

export interface PgbenchResult {
  /** Transactions per second: creates/s for create, batches/s for clicks. */
  tps: number;
  latencyAvgMs: number;
  transactions: number;
  failed: number;
  /** pgbench's CPU as a fraction of one core per thread. */
  toolCpu: number;
}

/** The pgbench binary; a missing one (or pg_wrapper with no server package behind it) fails naming the install line. */
export function pgbenchBinary(): string {
  const bin = requireTool("pgbench");
  const probe = Bun.spawnSync([bin, "--version"], { stdout: "pipe", stderr: "pipe" });
  if (probe.exitCode !== 0) throw new Error(`${missingToolMessage("pgbench")} (pgbench --version: ${probe.stderr.toString().trim()})`);
  return bin;
}

/** The service's $n placeholders as pgbench variables, in order. */
export const withVariables = (text: string, names: readonly string[]) =>
  names.reduceRight((sqlText, name, i) => sqlText.replaceAll(`$${i + 1}`, name === "null" ? "null" : `:${name}`), text).trim();

function createScript(): string {
  return [
    // 62^6 - 1: as many codes as the service's six characters give.
    "\\set code random(0, 56800235583)",
    "\\set user random(1, :users)",
    "select id, scope, user_id, last_used_at, revoked_at from api_keys where hash = :hash;",
    `${withVariables(INSERT_URL_SQL, ["code", "user", "url", "null", "null", "null", "null"])};`,
    "select pg_notify('linkfort_pgbench_fence', '!wpgbench:' || :client_id);",
  ].join("\n") + "\n";
}

/** The batch statement with its four arrays made in SQL; exported for bench/create-batching.ts. */
export function createBatchedScript(withFence: boolean): string {
  const statement = INSERT_URLS_SQL
    .replace("$1::text::varchar[]", "(select array_agg((:code::bigint + g)::text) from generate_series(1, :batch) g)::varchar[]")
    .replace("$2::text::bigint[]", "(select array_agg(1 + floor(random() * :users)::bigint) from generate_series(1, :batch))")
    .replace("$3::text::text[]", "array_fill(:url::text, array[:batch::int])")
    .replace("$4::text::text[]", "array_fill(null::text, array[:batch::int])")
    // The link options (none, as most creates have).
    .replace("$5::text::timestamptz[]", "array_fill(null::timestamptz, array[:batch::int])")
    .replace("$6::text::bigint[]", "array_fill(null::bigint, array[:batch::int])")
    .replace("$7::text::boolean[]", "array_fill(null::boolean, array[:batch::int])").trim();
  return [
    "\\set code random(0, 56800235583)",
    `${statement};`,
    ...(withFence ? ["select pg_notify('linkfort_pgbench_fence', '!wpgbench:' || :client_id);"] : []),
  ].join("\n") + "\n";
}

function clicksScript(): string {
  const spool = "'pgbench-' || :client_id";
  return [
    "\\set segment random(1, 1000000)",
    // The batch's links, drawn once and used by every statement below, as the shipper's are.
    "select '{' || string_agg((1 + floor(random() * :links))::int::text, ',') || '}' as ids from generate_series(1, :batch) \\gset",
    "begin;",
    `select pg_try_advisory_xact_lock(${0x11f0_0005}, hashtext(${spool}));`,
    `update spool_offsets set segment = :segment, byte_offset = 0, updated_at = now() where spool_id = ${spool};`,
    "select 1 from users where id in (select user_id from urls where id = any(:ids::text::int[])) order by id for key share;",
    "select 1 from urls where id = any(:ids::text::int[]) order by id for key share;",
    `with c as (
  select gen_random_uuid() as click_id, u.url_id, now() as at, u.n,
    jsonb_build_object('short_code', 'pgbench', 'referrer', 'https://ref.example/' || (u.n % 7), 'user_agent', 'Mozilla/5.0 pgbench', 'client_ip', '127.0.0.1') as details,
    'ref.example' as referrer, 'other' as agent
  from unnest(:ids::text::int[]) with ordinality as u(url_id, n)
), kept as (
  select c.*, l.user_id, (c.at at time zone 'UTC') as ts, (c.at at time zone 'UTC')::date as day
  from c join urls l on l.id = c.url_id
), ins as (
  insert into events (url_id, user_id, event_type, timestamp, details)
  select url_id, user_id, 'clicked', ts, details from kept order by n
  returning 1
), daily as (
  insert into click_daily (url_id, day, clicks, bot_clicks)
  select url_id, day, count(*), 0 from kept group by 1, 2 order by 1, 2
  on conflict (url_id, day) do update set clicks = click_daily.clicks + excluded.clicks, bot_clicks = click_daily.bot_clicks + excluded.bot_clicks
), referrers as (
  insert into click_referrers (url_id, day, referrer, clicks, bot_clicks)
  select url_id, day, referrer, count(*), 0 from kept group by 1, 2, 3 order by 1, 2, 3
  on conflict (url_id, day, referrer) do update set clicks = click_referrers.clicks + excluded.clicks, bot_clicks = click_referrers.bot_clicks + excluded.bot_clicks
), agents as (
  insert into click_agents (url_id, day, agent, clicks, bot_clicks)
  select url_id, day, agent, count(*), 0 from kept group by 1, 2, 3 order by 1, 2, 3
  on conflict (url_id, day, agent) do update set clicks = click_agents.clicks + excluded.clicks, bot_clicks = click_agents.bot_clicks + excluded.bot_clicks
)
select count(*)::int as written from ins;`,
    "commit;",
  ].join("\n") + "\n";
}

/** Values pgbench cannot make itself: the key's hash, the destination, the sizes. */
function variables(which: Ceiling, spec: PgbenchSpec): Record<string, string> {
  if (which === "create-batched") return { url: "https://example.com/pgbench/ceiling", users: String(spec.users), batch: String(spec.createBatch) };
  if (which === "create") {
    return { hash: createHash("sha256").update(spec.key).digest("hex"), url: "https://example.com/pgbench/ceiling", users: String(spec.users) };
  }
  return { links: String(spec.links), batch: String(spec.batch) };
}

/** Each client's spool row, as a shipper's first batch makes it (pgbench only updates). */
async function prepareClicks(spec: PgbenchSpec): Promise<void> {
  const sql = postgres(spec.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`insert into spool_offsets (spool_id, segment, byte_offset)
      select 'pgbench-' || n, 0, 0 from generate_series(0, ${spec.clients - 1}) as n on conflict do nothing`;
  } finally {
    await sql.end();
  }
}

function parse(out: string): Omit<PgbenchResult, "toolCpu"> {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  return {
    tps: num(/^tps = ([\d.]+)/m),
    latencyAvgMs: num(/^latency average = ([\d.]+) ms/m),
    transactions: num(/^number of transactions actually processed: (\d+)/m),
    failed: num(/^number of failed transactions: (\d+)/m) || 0,
  };
}

/** One pgbench run of `which` for spec.duration seconds; throws with pgbench's output when it fails. */
export async function runPgbench(which: Ceiling, spec: PgbenchSpec): Promise<PgbenchResult> {
  if (which === "clicks") await prepareClicks(spec);
  const script = which === "create" ? createScript() : which === "create-batched" ? createBatchedScript(true) : clicksScript();
  const clients = which === "create-batched" ? spec.createClients : spec.clients;
  return runScript(which, script, variables(which, spec), { ...spec, clients });
}

/** Any pgbench script (`-D` variables in `vars`) with spec's clients, threads and duration. */
export async function runScript(name: string, script: string, vars: Record<string, string>, spec: Pick<PgbenchSpec, "databaseUrl" | "clients" | "threads" | "duration">): Promise<PgbenchResult> {
  const bin = pgbenchBinary();
  const dir = await mkdtemp(join(tmpdir(), "linkfort-pgbench-"));
  try {
    const file = join(dir, `${name}.sql`);
    await writeFile(file, script);
    const u = new URL(spec.databaseUrl);
    const defines = Object.entries(vars).flatMap(([k, v]) => ["-D", `${k}=${v}`]);
    const args = [bin, "-n", "-M", "prepared", "-c", String(spec.clients), "-j", String(Math.min(spec.threads, spec.clients)), "-T", String(spec.duration), "-f", file, ...defines];
    const started = performance.now();
    const proc = Bun.spawn(args, {
      stdout: "pipe", stderr: "pipe",
      env: {
        PATH: process.env.PATH ?? "", PGHOST: u.hostname, PGPORT: u.port || "5432", PGUSER: decodeURIComponent(u.username),
        PGPASSWORD: decodeURIComponent(u.password), PGDATABASE: u.pathname.slice(1), PGAPPNAME: `pgbench-${name}`, PGOPTIONS: "-c TimeZone=UTC",
      },
    });
    const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    const wallMs = performance.now() - started;
    const result = parse(out);
    if (code !== 0) throw new Error(`pgbench ${name} exited ${code}: ${err}${out}`);
    // pgbench prints no rate when no transaction finished in time (a short warmup on a busy machine).
    if (!Number.isFinite(result.tps)) return { tps: 0, latencyAvgMs: NaN, transactions: 0, failed: result.failed, toolCpu: NaN };
    const usage = proc.resourceUsage();
    const toolCpu = usage ? Number(usage.cpuTime.user + usage.cpuTime.system) / 1000 / wallMs / spec.threads : NaN;
    return { ...result, toolCpu };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A create rate over a create ceiling measured beside it: the "≥ 0.7×" number. */
export function ceilingLine(label: string, createRps: number, ceiling: string, ceilingRate: number): string {
  return `ceiling create ${label} / ${ceiling} = ${(createRps / ceilingRate).toFixed(2)}× (${createRps.toFixed(0)} creates/s over ${ceilingRate.toFixed(0)} links/s)`;
}

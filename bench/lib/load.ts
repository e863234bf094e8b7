/**
 * The two load tools behind one interface. Each runs as its own process with a fixed duration
 * (it stops by itself), and its CPU time is read afterwards: a tool that used ~a whole core per
 * thread was the bottleneck, and a ratio measured with it does not count.
 */
import { join } from "node:path";
import { ROOT } from "./stack.ts";

export type Tool = "autocannon" | "wrk";

export interface LoadSpec {
  url: string;
  connections: number;
  duration: number;
  /** File with one path per line (uniform random choice), or a single path. */
  pathsFile?: string;
  path?: string;
  random404?: boolean;
  /** Fraction of requests that are POST /urls. */
  createRatio: number;
  key?: string;
  /** User-Agent header on every request; unset: the tool's own (autocannon none, wrk none). */
  userAgent?: string;
  users: number;
  /** wrk threads (autocannon is always one thread). */
  threads: number;
  /** Offered load in requests/s over all connections (autocannon only); unset: as fast as the server answers. */
  rate?: number;
}

export interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  total: number;
  /** Responses with a status outside 2xx/3xx. */
  non23: number;
  /** Responses with a status the scenario does not expect (404 is expected for redirect-404). */
  unexpected: number;
  /** Connection errors and timeouts. */
  errors: number;
  /** Load tool CPU as a fraction of one core per thread (≥ 0.9: the tool was the bottleneck). */
  toolCpu: number;
}

interface AutocannonOut { rps: number; p50: number; p99: number; total: number; statuses: Record<string, number>; errors: number; timeouts: number }
interface WrkOut { total: number; duration_us: number; p50_us: number; p99_us: number; connect: number; read: number; write: number; status: number; timeout: number; unexpected: number }

function cpuFraction(proc: { resourceUsage(): { cpuTime: { user: bigint; system: bigint } } | undefined }, wallMs: number, threads: number): number {
  const usage = proc.resourceUsage();
  if (!usage) return NaN;
  return Number(usage.cpuTime.user + usage.cpuTime.system) / 1000 / wallMs / threads;
}

async function autocannon(spec: LoadSpec, expected: Set<number>): Promise<LoadResult> {
  const node = Bun.which("node") ?? "node";
  const started = performance.now();
  const proc = Bun.spawn([node, join(ROOT, "bench/lib/autocannon-worker.mjs"), JSON.stringify(spec)], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const wall = performance.now() - started;
  if (code !== 0) throw new Error(`autocannon exited ${code}: ${err}`);
  const r = JSON.parse(out.trim().split("\n").pop()!) as AutocannonOut;
  let non23 = 0;
  let unexpected = 0;
  for (const [s, n] of Object.entries(r.statuses)) {
    if (Number(s) >= 400) non23 += n;
    if (!expected.has(Number(s))) unexpected += n;
  }
  return { rps: r.rps, p50Ms: r.p50, p99Ms: r.p99, total: r.total, non23, unexpected, errors: r.errors + r.timeouts, toolCpu: cpuFraction(proc, wall, 1) };
}

async function wrk(spec: LoadSpec): Promise<LoadResult> {
  if (spec.rate) throw new Error("wrk cannot hold a fixed request rate; use autocannon for --rate");
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "", WRK_PATHS: spec.pathsFile ?? "", WRK_PATH: spec.path ?? "/", WRK_404: spec.random404 ? "1" : "0",
    WRK_CREATE: String(spec.createRatio), WRK_KEY: spec.key ?? "", WRK_USERS: String(spec.users), WRK_UA: spec.userAgent ?? "",
  };
  const args = ["wrk", `-t${spec.threads}`, `-c${Math.max(spec.connections, spec.threads)}`, `-d${spec.duration}s`, "--timeout", "10s", "-s", join(ROOT, "bench/wrk/scenario.lua"), spec.url];
  const started = performance.now();
  const proc = Bun.spawn(args, { env, stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const wall = performance.now() - started;
  const line = /WRKJSON (\{.*\})/.exec(out)?.[1];
  if (code !== 0 || !line) throw new Error(`wrk exited ${code}: ${err}${out}`);
  const r = JSON.parse(line) as WrkOut;
  // wrk counts every status > 399 as a "status" error; for redirect-404 response() counts the rest.
  const non23 = r.status;
  const unexpected = spec.random404 ? r.unexpected : r.status;
  return {
    rps: r.total / (r.duration_us / 1e6), p50Ms: r.p50_us / 1000, p99Ms: r.p99_us / 1000, total: r.total,
    non23, unexpected, errors: r.connect + r.read + r.write + r.timeout, toolCpu: cpuFraction(proc, wall, spec.threads),
  };
}

export function runLoad(tool: Tool, spec: LoadSpec, expected: Set<number>): Promise<LoadResult> {
  return tool === "wrk" ? wrk(spec) : autocannon(spec, expected);
}

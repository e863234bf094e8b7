/**
 * Invalidation end to end, the way `npm start` runs linkfort: the supervisor's process runner
 * with three instances from source behind the repository's Caddyfile, over one PostgreSQL, first
 * without Redis and then with a real redis-server. Every instance's cache is warmed (each code
 * redirected through Caddy and directly on every instance port until each instance answers it
 * from its LRU); right after each write's response returned, redirects go directly to every
 * instance and through Caddy, and not one of them may give the answer from before the write.
 *
 * The writes are what people do: PUT and DELETE through Caddy with the admin key from the start
 * banner, and for a code that was a cached 404, `linkfort import` of a urls CSV (the API never
 * takes a client's short code; the import is how an operator brings codes of their own).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDatabase, dropDatabase } from "../../service/test/pg.ts";
import { freePort } from "../../service/test/ports.ts";
import { startRedis, type TestRedis } from "../../service/test/redis.ts";
import { requireTool } from "../../service/test/tools.ts";
import { waitFor } from "../../service/test/wait.ts";
import { alive } from "./processes.ts";
import { ROOT, spawnSupervisor, tempDataDir, type SupervisorProcess } from "./supervisor-process.ts";

/** Redirects per target (each instance port, and Caddy) after each write. */
const N = 20;

interface Answer { status: number; location: string | null; cache: string | null }

interface Stack {
  sup: SupervisorProcess;
  adminKey: string;
  databaseUrl: string;
  /** The public port (Caddy) first, then every instance port. */
  targets: { name: string; base: string }[];
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }>;
  stop(): Promise<void>;
}

async function follow(base: string, code: string): Promise<Answer> {
  const res = await fetch(`${base}/${code}`, { redirect: "manual" });
  await res.arrayBuffer();
  return { status: res.status, location: res.headers.get("location"), cache: res.headers.get("x-cache") };
}

async function startStack(opts: { redisUrl?: string }): Promise<Stack> {
  const db = await createDatabase();
  const dataDir = await tempDataDir();
  const [publicPort, statusPort, ...ports] = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
  const sup = spawnSupervisor(["run"], {
    DATABASE_URL: db.url, DATA_DIR: dataDir, BACKUP_DIR: join(dataDir, "backups"), INSTANCE_PORTS: ports.join(","),
    PUBLIC_PORT: String(publicPort), STATUS_PORT: String(statusPort), SUPERVISOR_CADDY: "on", SHUTDOWN_DRAIN_MS: "300",
    ACCESS_LOG: "false", SERVICE_COMMAND: join(ROOT, "service/src/main.ts"), ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {}),
  });
  let tree: number[] = [];
  const stop = async () => {
    tree = [...new Set([...tree, ...sup.tree()])];
    if (sup.proc.exitCode === null) sup.proc.kill("SIGTERM");
    await Promise.race([sup.proc.exited, Bun.sleep(15_000)]);
    for (const pid of [sup.proc.pid, ...tree]) if (alive(pid)) process.kill(pid, "SIGKILL");
    await rm(dataDir, { recursive: true, force: true });
    await dropDatabase(db.name);
  };
  try {
    const adminKey = await sup.waitForBannerKey();
    if (!adminKey) throw new Error(`the start banner shows no new admin key:\n${sup.output().slice(-3000)}`);
    tree = sup.tree();
    const publicBase = `http://127.0.0.1:${publicPort}`;
    // Caddy's active health check has to see each instance ready before it sends it traffic.
    await waitFor("Caddy to answer", async () => (await fetch(`${publicBase}/ready`).catch(() => null))?.status === 200, 20_000, { everyMs: 50 });
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${publicBase}${path}`, {
        method, headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, json: text === "" ? null : JSON.parse(text) as unknown };
    };
    const targets = [
      { name: "caddy", base: publicBase },
      ...ports.map((p) => ({ name: String(p), base: `http://127.0.0.1:${p}` })),
    ];
    return { sup, adminKey, databaseUrl: db.url, targets, api, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Redirects each code many times through Caddy and on every instance, until every instance
 * answers each of them from its own LRU: only then can a stale answer show.
 */
async function warm(stack: Stack, codes: string[]): Promise<void> {
  const [caddy, ...instances] = stack.targets;
  for (const code of codes) for (let i = 0; i < 10; i++) await follow(caddy!.base, code);
  for (const { name, base } of instances) {
    for (const code of codes) {
      await waitFor(`${name} to answer ${code} from its LRU`, async () => (await follow(base, code)).cache === "lru", 5_000, { everyMs: 10 });
    }
  }
}

/**
 * Right after a write returned: N redirects to every target at once (each target's in a row), and
 * how many did not give the expected answer, per target, with the first few of them.
 */
async function afterWrite(stack: Stack, codes: string[], expected: (a: Answer) => boolean): Promise<{ stale: number; total: number; detail: string }> {
  const perTarget = await Promise.all(stack.targets.map(async ({ name, base }) => {
    const wrong: string[] = [];
    for (let i = 0; i < N; i++) {
      const code = codes[i % codes.length]!;
      const a = await follow(base, code);
      if (!expected(a)) wrong.push(`#${i} ${code}: ${a.status} ${a.location ?? ""} x-cache=${a.cache}`);
    }
    return { name, wrong };
  }));
  const stale = perTarget.reduce((sum, t) => sum + t.wrong.length, 0);
  const detail = perTarget.map((t) => `${t.name}: ${t.wrong.length}/${N} stale${t.wrong.length ? ` (${t.wrong.slice(0, 3).join("; ")})` : ""}`).join("\n");
  return { stale, total: N * stack.targets.length, detail };
}

/** `linkfort import FILE` as an operator runs it, against the stack's database. */
async function importUrls(stack: Stack, csv: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "linkfort-import-"));
  try {
    const file = join(dir, "urls.csv");
    await writeFile(file, csv);
    const proc = Bun.spawn([process.execPath, join(ROOT, "service/src/main.ts"), "import", file], {
      cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", DATABASE_URL: stack.databaseUrl }, stdout: "pipe", stderr: "pipe",
    });
    const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    if (code !== 0) throw new Error(`linkfort import exited ${code}:\n${out}${err}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface Link { id: number; short_code: string }

async function createUser(stack: Stack, name: string): Promise<number> {
  const res = await stack.api("POST", "/users", { username: name, email: `${name}@example.com` });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return (res.json as { id: number }).id;
}

async function createLink(stack: Stack, userId: number, url: string): Promise<Link> {
  const res = await stack.api("POST", "/urls", { user_id: userId, original_url: url });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return res.json as Link;
}

const redirectsTo = (location: string) => (a: Answer) => a.status === 302 && a.location === location;
const statusIs = (status: number) => (a: Answer) => a.status === status;

function invalidationSuite(label: string, withRedis: boolean) {
  describe(`invalidation through the supervisor's stack, ${label}`, () => {
    let redis: TestRedis | undefined;
    let stack: Stack;
    const timings: string[] = [];

    beforeAll(async () => {
      requireTool("caddy");
      if (withRedis) redis = await startRedis();
      const t0 = performance.now();
      stack = await startStack({ redisUrl: redis?.url });
      timings.push(`start ${(performance.now() - t0).toFixed(0)} ms`);
    }, 60_000);

    afterAll(async () => {
      await stack?.stop();
      await redis?.stop();
      console.log(`[timing] invalidation e2e ${label}: ${timings.join(", ")}`);
    }, 30_000);

    /** Warms `codes`, runs `write`, then counts stale answers; fails with the counts per target. */
    async function check(name: string, codes: string[], write: () => Promise<void>, expected: (a: Answer) => boolean): Promise<void> {
      const t0 = performance.now();
      await warm(stack, codes);
      await write();
      const result = await afterWrite(stack, codes, expected);
      timings.push(`${name} ${(performance.now() - t0).toFixed(0)} ms`);
      console.log(`[invalidation] ${label}, ${name}: ${result.stale} stale of ${result.total}`);
      expect(result.stale, `${name} (${label}): ${result.stale} stale of ${result.total} redirects after the write returned\n${result.detail}`).toBe(0);
    }

    test("deactivate: every instance answers 410 as soon as the PUT returned", async () => {
      const user = await createUser(stack, "deact");
      const link = await createLink(stack, user, "https://example.com/deactivate");
      await check("deactivate", [link.short_code], async () => {
        const res = await stack.api("PUT", `/urls/${link.id}`, { is_active: false });
        expect(res.status, JSON.stringify(res.json)).toBe(200);
      }, statusIs(410));
    }, 20_000);

    test("re-target: every instance redirects to the new URL as soon as the PUT returned", async () => {
      const user = await createUser(stack, "retarget");
      const link = await createLink(stack, user, "https://example.com/old-target");
      await check("re-target", [link.short_code], async () => {
        const res = await stack.api("PUT", `/urls/${link.id}`, { original_url: "https://example.com/new-target" });
        expect(res.status, JSON.stringify(res.json)).toBe(200);
      }, redirectsTo("https://example.com/new-target"));
    }, 20_000);

    test("delete: every instance answers 404 as soon as the DELETE returned", async () => {
      const user = await createUser(stack, "del");
      const link = await createLink(stack, user, "https://example.com/delete");
      await check("delete", [link.short_code], async () => {
        const res = await stack.api("DELETE", `/urls/${link.id}`);
        expect(res.status, JSON.stringify(res.json)).toBe(204);
      }, statusIs(404));
    }, 20_000);

    test("user delete: every link of the user is 404 on every instance as soon as the DELETE returned", async () => {
      const user = await createUser(stack, "gone");
      const links = await Promise.all([1, 2, 3].map((i) => createLink(stack, user, `https://example.com/user-link-${i}`)));
      await check("user delete", links.map((l) => l.short_code), async () => {
        const res = await stack.api("DELETE", `/users/${user}`);
        expect(res.status, JSON.stringify(res.json)).toBe(204);
      }, statusIs(404));
    }, 20_000);

    test("create after a cached 404: every instance redirects as soon as `linkfort import` returned", async () => {
      const user = await createUser(stack, "importer");
      const code = withRedis ? "imRedis1" : "imLocal1";
      const before = await follow(stack.targets[0]!.base, code);
      expect(before.status).toBe(404);
      await check("create after 404", [code], () => importUrls(stack,
        "id,user_id,short_code,original_url,title,is_active,created_at,updated_at\n" +
        `900001,${user},${code},https://example.com/imported,Imported,True,2025-05-22 05:19:55,2025-05-22 05:19:55\n`,
      ), redirectsTo("https://example.com/imported"));
    }, 20_000);
  });
}

invalidationSuite("no Redis", false);
invalidationSuite("with Redis", true);

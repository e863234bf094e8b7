/**
 * @module Redis killed with SIGKILL and started again empty. The PID, the binary and the listen
 * settings come from Redis itself (INFO server, CONFIG GET). If nothing brings it back within a
 * second (a service manager with Restart=), the drill starts the same binary on the same port
 * with no persistence, detached so it outlives the drill. Needs the user Redis runs as, or root.
 * Under deploy/install.sh, REDIS_URL's ACL user may not run admin commands (CONFIG, CLIENT
 * PAUSE): the drill then cannot start Redis itself and leaves it to systemd, and hangs Redis
 * with SIGSTOP instead of CLIENT PAUSE.
 */
import { existsSync } from "node:fs";
import Redis from "ioredis";
import { alive, pollUntil } from "./stack.ts";

export interface RedisRestart {
  killedPid: number;
  /** The PID of the Redis that answers afterwards, and who started it. */
  pid: number;
  restartedBy: "drill" | "other";
}

const client = (url: string) =>
  new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 1_000, commandTimeout: 1_000, retryStrategy: () => null })
    .on("error", () => {});

/** Redis's PID and binary (INFO server), and its config (CONFIG GET; null when the user may not read it). */
async function describe(url: string): Promise<{ pid: number; executable: string; config: Record<string, string> | null } | null> {
  const redis = client(url);
  try {
    await redis.connect();
    const info = await redis.info("server");
    const field = (name: string) => new RegExp(`^${name}:(.*)$`, "m").exec(info)?.[1]?.trim() ?? "";
    const pairs = (await redis.config("GET", "*").catch(() => null)) as string[] | null;
    let config: Record<string, string> | null = null;
    if (pairs) {
      config = {};
      for (let i = 0; i + 1 < pairs.length; i += 2) config[pairs[i]!] = pairs[i + 1]!;
    }
    return { pid: Number(field("process_id")), executable: field("executable"), config };
  } catch {
    return null;
  } finally {
    redis.disconnect();
  }
}

const answers = (url: string) => async () => (await describe(url)) !== null;

export async function restartRedis(url: string): Promise<RedisRestart> {
  const before = await describe(url);
  if (!before || !before.pid) throw new Error("Redis does not answer INFO at REDIS_URL; cannot find its process");
  process.kill(before.pid, "SIGKILL");
  if ((await pollUntil(async () => !alive(before.pid), 5_000, 20)) === null) throw new Error(`redis pid ${before.pid} did not exit after SIGKILL`);
  // Someone else's restart (systemd Restart=always) wins if it is quick; else the drill restarts it.
  // Without its config the drill cannot start an equal Redis: its service manager gets longer.
  if ((await pollUntil(answers(url), before.config ? 1_000 : 10_000, 50)) === null) {
    const c = before.config;
    if (!c) throw new Error("Redis did not come back within 10 s, and REDIS_URL's user may not read its config (CONFIG GET) to start it again");
    const args = ["--port", c.port ?? "6379", "--bind", c.bind || "127.0.0.1", "--save", "", "--appendonly", "no"];
    if (c.requirepass) args.push("--requirepass", c.requirepass);
    // INFO's executable is argv[0] joined to Redis's working directory: not a path when started from PATH.
    const bin = before.executable && existsSync(before.executable) ? before.executable : Bun.which("redis-server") ?? "redis-server";
    const proc = Bun.spawn([bin, ...args], { stdin: "ignore", stdout: "ignore", stderr: "ignore", detached: true });
    proc.unref();
    if ((await pollUntil(answers(url), 10_000, 50)) === null) throw new Error("the restarted Redis does not answer");
    return { killedPid: before.pid, pid: proc.pid, restartedBy: "drill" };
  }
  const after = await describe(url);
  return { killedPid: before.pid, pid: after?.pid ?? 0, restartedBy: "other" };
}

/** The PID of the Redis at `url`, or null (tests stop a Redis the drill started, by PID). */
export async function redisPid(url: string): Promise<number | null> {
  return (await describe(url))?.pid ?? null;
}

/**
 * Redis hung for `ms`: `CLIENT PAUSE ms ALL` stops it answering every client (writes and reads);
 * when REDIS_URL's user may not (NOPERM: an ACL user without @admin), SIGSTOP to its process,
 * then SIGCONT. Resolves when the hang ends, saying which it was.
 */
export async function pauseRedis(url: string, ms: number): Promise<string> {
  const redis = client(url);
  let refused: Error | null = null;
  try {
    await redis.connect();
    await redis.call("CLIENT", "PAUSE", String(ms), "ALL");
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith("NOPERM"))) throw error;
    refused = error;
  } finally {
    redis.disconnect();
  }
  if (!refused) {
    await Bun.sleep(ms);
    return `CLIENT PAUSE ${ms} ALL: Redis answered no client for ${ms} ms`;
  }
  const pid = (await describe(url))?.pid;
  if (!pid) throw new Error(`CLIENT PAUSE refused (${refused.message}) and Redis does not say its PID (INFO server)`);
  process.kill(pid, "SIGSTOP");
  try { await Bun.sleep(ms); } finally { process.kill(pid, "SIGCONT"); }
  return `SIGSTOP to redis-server (pid ${pid}) for ${ms} ms, then SIGCONT (REDIS_URL's user may not CLIENT PAUSE)`;
}

/**
 * @module Redis killed with SIGKILL and started again empty. The PID, the binary and the listen
 * settings come from Redis itself (INFO server, CONFIG GET). If nothing brings it back within a
 * second (a service manager with Restart=), the drill starts the same binary on the same port
 * with no persistence, detached so it outlives the drill. Needs the user Redis runs as, or root.
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

async function describe(url: string): Promise<{ pid: number; executable: string; config: Record<string, string> } | null> {
  const redis = client(url);
  try {
    await redis.connect();
    const info = await redis.info("server");
    const field = (name: string) => new RegExp(`^${name}:(.*)$`, "m").exec(info)?.[1]?.trim() ?? "";
    const pairs = (await redis.config("GET", "*")) as string[];
    const config: Record<string, string> = {};
    for (let i = 0; i + 1 < pairs.length; i += 2) config[pairs[i]!] = pairs[i + 1]!;
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
  if (!before || !before.pid) throw new Error("Redis does not answer INFO/CONFIG at REDIS_URL; cannot find its process");
  process.kill(before.pid, "SIGKILL");
  if ((await pollUntil(async () => !alive(before.pid), 5_000, 20)) === null) throw new Error(`redis pid ${before.pid} did not exit after SIGKILL`);
  // Someone else's restart (systemd Restart=always) wins if it is quick; else the drill restarts it.
  if ((await pollUntil(answers(url), 1_000, 50)) === null) {
    const c = before.config;
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

/** Redis hung: `CLIENT PAUSE ms ALL` stops it answering every client (writes and reads) for `ms`; resolves when the pause ends. */
export async function pauseRedis(url: string, ms: number): Promise<void> {
  const redis = client(url);
  try {
    await redis.connect();
    await redis.call("CLIENT", "PAUSE", String(ms), "ALL");
  } finally {
    redis.disconnect();
  }
  await Bun.sleep(ms);
}

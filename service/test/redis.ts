/**
 * A real redis-server on a random loopback port, owned by one test file: `stop()` and `start()`
 * again are a real outage and recovery (same port, empty data: nothing is persisted).
 */
import type { Subprocess } from "bun";
import Redis from "ioredis";
import { freePort } from "./ports.ts";
import { requireTool } from "./tools.ts";
import { waitFor } from "./wait.ts";

export interface TestRedis {
  url: string;
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const bin = requireTool("redis-server");
  const port = await freePort();
  let proc: Subprocess | undefined;
  const redis: TestRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      proc = Bun.spawn([bin, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"], {
        stdout: "ignore", stderr: "ignore",
      });
      const deadline = Date.now() + 10_000;
      for (;;) {
        const up = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then((s) => { s.end(); return true; }, () => false);
        if (up) return;
        if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`);
        await Bun.sleep(20);
      }
    },
    async stop() {
      if (!proc) return;
      proc.kill("SIGKILL");
      await proc.exited;
      proc = undefined;
    },
  };
  await redis.start();
  return redis;
}

/**
 * A client that fails like the service's command connection (src/redis.ts) while Redis is down:
 * at once (no offline queue, no retries, 250 ms timeout), reconnecting every 50 ms.
 */
export function failFastClient(url: string, extra: { username?: string; password?: string } = {}): Redis {
  return new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 250, retryStrategy: () => 50, ...extra })
    .on("error", () => {});
}

/** Resolves once `client` is connected (after a start, or a restart of the server); fails after `timeoutMs`. */
export async function waitReady(client: Redis, timeoutMs = 20_000): Promise<void> {
  await waitFor("the Redis client to be ready", () => client.status === "ready", timeoutMs, { everyMs: 10 });
}

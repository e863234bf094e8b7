/**
 * deploy/patch-postgres.ts, which package.json's postinstall runs, fixes postgres.js where a
 * connection whose socket closed threw from a timer (an instance died when PostgreSQL restarted)
 * or left a query waiting forever. Against a real PostgreSQL terminating the backend.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createDatabase, dropDatabase } from "../../test/pg.ts";
import { waitFor } from "../../test/wait.ts";

const ROOT = join(import.meta.dir, "../../..");
let db: { name: string; url: string };

beforeAll(async () => { db = await createDatabase({ unmigrated: true }); }, 60_000);
afterAll(async () => { await dropDatabase(db.name); }, 30_000);

describe("postgres.js after PostgreSQL closed a connection", () => {
  test("node_modules holds the fix (npm install ran deploy/patch-postgres.ts)", () => {
    const check = Bun.spawnSync([process.execPath, join(ROOT, "deploy/patch-postgres.ts"), "--check"], { stderr: "pipe" });
    expect(check.stderr.toString()).toBe("");
    expect(check.exitCode).toBe(0);
  });

  test("queries on a reserved connection whose backend was terminated fail with an error, and the pool recovers", async () => {
    // Which of a socket error or PostgreSQL's own message comes first varies: three rounds.
    for (let round = 0; round < 3; round++) {
      const child = Bun.spawn([process.execPath, join(ROOT, "service/test/fixtures/reserved-after-terminate.ts"), db.url], { stdout: "pipe", stderr: "pipe" });
      const exited = await waitFor("the child to finish", async () => (child.exitCode !== null || child.signalCode !== null ? true : undefined), 20_000)
        .catch((error: unknown) => { child.kill("SIGKILL"); throw error; });
      expect(exited).toBe(true);
      const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
      expect(stderr).not.toContain("TypeError");
      expect(child.exitCode).toBe(0);
      const { onReserved, onPool } = JSON.parse(stdout) as { onReserved: string[]; onPool: string[] };
      expect(["ECONNRESET", "CONNECTION_CLOSED"]).toContain(onReserved[0] ?? "nothing");
      expect(onReserved[1]).toBe("CONNECTION_CLOSED");
      // The released dead connection may fail one more query; after it the pool answers.
      expect(onPool.slice(1)).toEqual(["ok", "ok", "ok"]);
    }
  }, 90_000);
});

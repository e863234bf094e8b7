/**
 * The keep-running loop with real child processes (`sleep`), and a start that fails as the
 * embedded PostgreSQL's does on a full disk (it throws) for more tries than the loop once allowed
 * (16): it keeps trying, alerts once when a start fails, and resolves when one starts.
 */
import { describe, expect, test } from "bun:test";
import { silentLogger } from "../../service/src/lib/logger.ts";
import { recordingAlerter } from "../test/recording-alerter.ts";
import { waitFor } from "../../service/test/wait.ts";
import { keepRunning, type Child } from "./keep-running.ts";

function sleeper(): Child & { pid: number } {
  const proc = Bun.spawn(["sleep", "30"], { stdout: "ignore", stderr: "ignore" });
  return { pid: proc.pid, exited: proc.exited, stop: async () => { proc.kill("SIGKILL"); await proc.exited; } };
}

describe("keep running", () => {
  test("a child whose start fails 40 times in a row (a full disk) is started again once it can be, with one alert raised and then resolved", async () => {
    const alerts = recordingAlerter();
    let failures = 40;
    let tries = 0;
    const first = sleeper();
    const kept = keepRunning(first, async () => {
      tries++;
      if (failures-- > 0) throw new Error("the disk holding /data/postgres is full: free space and start again");
      return sleeper();
    }, { name: "embedded PostgreSQL", logger: silentLogger, firstDelayMs: 1, maxDelayMs: 5, alert: { alerter: alerts, key: "embedded-postgres-down" } });
    try {
      void first.stop();
      const second = await waitFor("the child started again", () => (kept.current() !== first ? kept.current() as ReturnType<typeof sleeper> : undefined), 10_000);
      expect(tries).toBe(41);
      expect(process.kill(second.pid, 0)).toBe(true);
      expect(alerts.calls.map((c) => [c.kind, c.key, c.severity ?? null])).toEqual([["raise", "embedded-postgres-down", "critical"], ["resolve", "embedded-postgres-down", null]]);
      expect(alerts.calls[0]!.detail).toBe("the disk holding /data/postgres is full: free space and start again; the supervisor tries again every 5 ms");
      expect(alerts.calls[1]!.detail).toBe("embedded PostgreSQL runs again (after 41 tries)");
    } finally {
      await kept.stop();
    }
  });

  test("a child started again at the first try raises no alert; stop() ends the loop", async () => {
    const alerts = recordingAlerter();
    const first = sleeper();
    const kept = keepRunning(first, async () => sleeper(), { name: "caddy", logger: silentLogger, firstDelayMs: 1, alert: { alerter: alerts, key: "caddy-down" } });
    void first.stop();
    await waitFor("the child started again", () => (kept.current() !== first ? true : undefined), 10_000);
    await kept.stop();
    await kept.done;
    expect(alerts.calls).toEqual([]);
  });
});

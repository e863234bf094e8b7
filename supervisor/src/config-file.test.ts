import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readConfigFile } from "./config-file.ts";
import { loadSupervisorConfig } from "./config.ts";

const dir = await mkdtemp(join(tmpdir(), "linkfort-toml-"));
afterAll(() => rm(dir, { recursive: true, force: true }), 30_000);

async function file(text: string): Promise<string> {
  const path = join(dir, `${crypto.randomUUID()}.toml`);
  await writeFile(path, text);
  return path;
}

describe("--config FILE.toml", () => {
  test("keys are the environment names; values go through the same validation, and the environment wins", async () => {
    const values = await readConfigFile(await file(`INSTANCE_PORTS = [9001, 9002]\nPROBE_INTERVAL_MS = 250\nSUPERVISOR_CADDY = "off"\nACCESS_LOG = false\n`));
    expect(values).toEqual({ INSTANCE_PORTS: "9001,9002", PROBE_INTERVAL_MS: "250", SUPERVISOR_CADDY: "off", ACCESS_LOG: "false" });
    const config = loadSupervisorConfig({ ...values, PROBE_INTERVAL_MS: "500" });
    expect([config.ports, config.probeIntervalMs, config.caddy, config.instanceAccessLog]).toEqual([[9001, 9002], 500, "off", false]);
  });

  test("an unknown key or a table is refused with every problem named", async () => {
    const path = await file(`INSTANCE_PORT = "8081"\n[PROBE_INTERVAL_MS]\nx = 1\n`);
    await expect(readConfigFile(path)).rejects.toThrow(`${path}:\n  INSTANCE_PORT: not a supervisor setting\n  PROBE_INTERVAL_MS: must be a string, number, boolean or list of ports`);
  });

  test("a bad value is reported by config.ts under its variable name", async () => {
    const values = await readConfigFile(await file(`FAIL_THRESHOLD = 0\n`));
    expect(() => loadSupervisorConfig(values)).toThrow('FAIL_THRESHOLD="0": must be between 1 and 100');
  });
});

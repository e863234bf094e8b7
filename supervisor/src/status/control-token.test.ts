import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { controlTokenPath, createControlToken, readControlToken, tokenMatches } from "./control-token.ts";

const dir = await mkdtemp(join(tmpdir(), "linkfort-token-"));
afterAll(() => rm(dir, { recursive: true, force: true }), 30_000);

describe("the control token file", () => {
  test("is written 0600 in a 0700 folder, read back as written, and replaced by a new one at each start", async () => {
    const path = join(dir, "state", ".control-token");
    const first = await createControlToken(path);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "state"))).mode & 0o777).toBe(0o700);
    expect(await readControlToken(path)).toEqual({ ok: true, token: first });
    const second = await createControlToken(path);
    expect(second).not.toBe(first);
    expect(await readControlToken(path)).toEqual({ ok: true, token: second });
  });

  test("a missing file says what to check", async () => {
    const path = join(dir, "none");
    expect(await readControlToken(path)).toEqual({ ok: false, error: `cannot read the control token ${path}: no such file: is the supervisor running, with the same BACKUP_DIR / CONTROL_TOKEN_FILE?` });
  });

  test("lives in BACKUP_DIR unless CONTROL_TOKEN_FILE says otherwise", () => {
    expect(controlTokenPath({ backupDir: "/var/lib/linkfort/backups", controlTokenFile: undefined })).toBe("/var/lib/linkfort/backups/.control-token");
    expect(controlTokenPath({ backupDir: "/b", controlTokenFile: "/run/t" })).toBe("/run/t");
  });

  test("only the exact bearer token matches", () => {
    expect(tokenMatches("Bearer abc", "abc")).toBe(true);
    expect(tokenMatches("bearer  abc ", "abc")).toBe(true);
    for (const header of [null, "", "abc", "Bearer ab", "Bearer abcd", "Basic abc"]) expect(tokenMatches(header, "abc")).toBe(false);
  });
});

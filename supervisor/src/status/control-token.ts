/**
 * @module The control token: the secret a POST to the status server must carry. The daemon
 * writes a fresh one at every start into a file only its user can read (mode 0600, in a 0700
 * folder), and `linkfort-supervisor rolling-restart` reads it from there. Loopback binding and
 * the Host/Origin checks stop a browser; the token stops every other local user and process.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmod, mkdir, open, readFile, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { SupervisorConfig } from "../config.ts";

/** CONTROL_TOKEN_FILE, else `.control-token` in BACKUP_DIR: the one folder the supervisor always owns and may write (its unit's StateDirectory on a VM). */
export function controlTokenPath(config: Pick<SupervisorConfig, "controlTokenFile" | "backupDir">): string {
  return config.controlTokenFile ?? join(config.backupDir, ".control-token");
}

/** Writes a new random token to `path` (0600, replaced atomically) and returns it. */
export async function createControlToken(path: string): Promise<string> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString("hex");
  const temp = `${path}.${process.pid}.tmp`;
  // Created 0600 from the first byte: never readable by others, not even for a moment.
  const file = await open(temp, "w", 0o600);
  try {
    await file.chmod(0o600); // an old temp file from a crash keeps its own mode otherwise
    await file.writeFile(`${token}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
  await chmod(path, 0o600);
  return token;
}

/** The token the running daemon wrote, or why it cannot be read. */
export async function readControlToken(path: string): Promise<{ ok: true; token: string } | { ok: false; error: string }> {
  try {
    const token = (await readFile(path, "utf8")).trim();
    return token ? { ok: true, token } : { ok: false, error: `${path} is empty` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "EACCES" ? "permission denied: run as the supervisor's user (root on a VM, e.g. sudo)"
      : code === "ENOENT" ? "no such file: is the supervisor running, with the same BACKUP_DIR / CONTROL_TOKEN_FILE?"
      : (err as Error).message;
    return { ok: false, error: `cannot read the control token ${path}: ${why}` };
  }
}

/** Constant time in the token's contents: the digests have one length whatever was sent. */
export function tokenMatches(authorization: string | null, token: string): boolean {
  const sent = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
  if (sent === undefined) return false;
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(sent), digest(token));
}

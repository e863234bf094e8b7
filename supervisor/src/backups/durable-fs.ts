/**
 * @module File operations that survive a crash or power loss: a file counts as written only once
 * its data and the directory entry naming it are both on disk.
 */
import { chmod, mkdir, open, rename, rm, statfs } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Creates the backup folder readable by its owner only (dumps hold every row of the database). */
export async function ensurePrivateDir(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode passes through the umask; a folder we just made gets exactly 0700.
  if (created !== undefined) await chmod(dir, 0o700);
}

export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The directory entry of a renamed or created file is durable only after the directory is synced. */
export const fsyncDir = (dir: string) => fsyncPath(dir);

/** Writes `content` to a temporary name, syncs it, renames it over `path` and syncs the folder. */
export async function writeFileDurably(path: string, content: string, mode = 0o600): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  const handle = await open(temp, "wx", mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await fsyncDir(dirname(path));
}

/** An empty file only its owner can read, for a tool to write into. */
export async function createPrivateFile(path: string): Promise<void> {
  const handle = await open(path, "wx", 0o600);
  await handle.close();
}

export async function sha256File(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}

/** Bytes an unprivileged writer may still use on the filesystem holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return Number(stats.bavail) * Number(stats.bsize);
}

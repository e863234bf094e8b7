/**
 * @module Finding the process behind a part of the stack that the supervisor's /status does not
 * list: whoever listens on a TCP port (Caddy on the public port), from /proc (Linux; needs the
 * same user or root), and the embedded PostgreSQL's postmaster from its data directory.
 */
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";

/** Socket inodes in LISTEN state on `port`, from /proc/net/tcp and tcp6. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try { text = readFileSync(file, "utf8"); } catch { continue; }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; field 9 is the inode.
      if (f.length > 9 && f[1]!.endsWith(`:${hexPort}`) && f[3] === "0A") inodes.add(f[9]!);
    }
  }
  return inodes;
}

/** The PID of a process that listens on TCP `port`, or null. */
export function pidListeningOn(port: number): number | null {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return null;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[] = [];
    try { fds = readdirSync(join("/proc", entry, "fd")); } catch { continue; }
    for (const fd of fds) {
      let target = "";
      try { target = readlinkSync(join("/proc", entry, "fd", fd)); } catch { continue; }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && inodes.has(inode)) return Number(entry);
    }
  }
  return null;
}

/** The postmaster's PID from DATA_DIR/postgres/postmaster.pid (its first line), or null when it is not running. */
export function postmasterPid(pgDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(pgDir, "postmaster.pid"), "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** The PIDs whose parent is `pid` (from /proc/PID/stat), e.g. a postmaster's backends. */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(join("/proc", entry, "stat"), "utf8");
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch { /* gone meanwhile */ }
  }
  return children;
}

/** The systemd unit a process runs in ("linkfort-supervisor.service"), from its cgroup; null outside one. */
export function unitOf(pid: number): string | null {
  try {
    const cgroup = readFileSync(`/proc/${pid}/cgroup`, "utf8");
    return /\/([^/\n]+\.service)\s*$/m.exec(cgroup)?.[1] ?? null;
  } catch {
    return null;
  }
}

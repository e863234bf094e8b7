/**
 * @module sd_notify(3) from the process itself: READY=1, STATUS=…, STOPPING=1, WATCHDOG=1 and
 * MAINPID= to the datagram socket systemd names in $NOTIFY_SOCKET. The units use
 * NotifyAccess=main, which accepts a message only when the kernel says it came from the main
 * PID; a `systemd-notify` child is another PID (and may be gone before systemd reads its
 * credentials), so the message must leave from here. Bun has no unix datagram sockets, so this
 * calls libc's socket(2)/sendto(2) through bun:ffi, which also works in a `bun build --compile`
 * binary. Without $NOTIFY_SOCKET (not under systemd, or not Type=notify) every call is a no-op.
 *
 * The variables come from the service manager, not the operator, so they are read here rather
 * than in config.ts, and then removed from the environment (as sd_notify's unset_environment
 * does) so children such as Caddy or pg_dump do not notify in our name.
 */
import { dlopen, FFIType, read } from "bun:ffi";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
// Never block the event loop on a full notify queue; a lost watchdog ping is retried next period.
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const SUN_PATH_BYTES = 108;
const ERRNO_NAMES: Record<number, string> = { 1: "EPERM", 2: "ENOENT", 11: "EAGAIN", 13: "EACCES", 97: "EAFNOSUPPORT", 111: "ECONNREFUSED" };

function openLibc() {
  return dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64_fast },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  }).symbols;
}
type Libc = ReturnType<typeof openLibc>;
let libc: Libc | undefined;

/** struct sockaddr_un for a path, or for an abstract name written "@name" (leading NUL, no trailing one). */
export function unixAddress(name: string): { bytes: Uint8Array; length: number } {
  const abstract = name.startsWith("@");
  const path = new TextEncoder().encode(abstract ? name.slice(1) : name);
  // A path needs its NUL terminator inside sun_path; an abstract name needs the leading NUL.
  if (path.length + 1 > SUN_PATH_BYTES) throw new Error(`NOTIFY_SOCKET is longer than ${SUN_PATH_BYTES - 1} bytes`);
  const bytes = new Uint8Array(2 + SUN_PATH_BYTES);
  new DataView(bytes.buffer).setUint16(0, AF_UNIX, true);
  bytes.set(path, abstract ? 3 : 2);
  return { bytes, length: 2 + 1 + path.length };
}

export interface NotifierOptions {
  /** Our PID, to compare with WATCHDOG_PID (default process.pid). */
  pid?: number;
  /** Called when a message cannot be sent; once per distinct error until a send succeeds again. */
  onError?: (error: Error) => void;
}

export interface SystemdNotifier {
  /** False when NOTIFY_SOCKET was unset: every call does nothing. */
  readonly enabled: boolean;
  /** Half of WATCHDOG_USEC in ms when systemd expects pings from this process, else null. */
  readonly watchdogIntervalMs: number | null;
  /** Sends raw "KEY=value" lines; false when disabled or the send failed. */
  send(message: string): boolean;
  ready(status?: string): boolean;
  status(text: string): boolean;
  stopping(status?: string): boolean;
  mainPid(pid: number): boolean;
  /** Pings WATCHDOG=1 now and every watchdogIntervalMs on an unref'd timer; returns the stop function. */
  startWatchdog(): () => void;
  close(): void;
}

/** STATUS is one line: a newline would start another KEY=value. */
const statusLine = (text: string) => `STATUS=${text.replace(/[\r\n]+/g, " ")}`;

function watchdogInterval(env: Record<string, string | undefined>, pid: number): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isInteger(usec) || usec <= 0) return null;
  // WATCHDOG_PID names the process systemd watches; a child that inherited the variables is not it.
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== "" && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2 / 1000));
}

/** Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from `env` and removes them from it. */
export function createSystemdNotifier(env: Record<string, string | undefined> = process.env, opts: NotifierOptions = {}): SystemdNotifier {
  const socketName = env.NOTIFY_SOCKET || undefined;
  const watchdogIntervalMs = socketName ? watchdogInterval(env, opts.pid ?? process.pid) : null;
  for (const key of ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]) delete env[key];

  let fd = -1;
  let address: ReturnType<typeof unixAddress> | undefined;
  let lastError: string | undefined;
  const fail = (message: string) => {
    if (message !== lastError) opts.onError?.(new Error(message));
    lastError = message;
    return false;
  };

  const send = (message: string): boolean => {
    if (!socketName) return false;
    try {
      libc ??= openLibc();
      address ??= unixAddress(socketName);
      if (fd < 0) fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    } catch (error) {
      return fail(`sd_notify unavailable: ${error instanceof Error ? error.message : String(error)}`);
    }
    const errno = () => {
      const code = read.i32(libc!.__errno_location()!, 0);
      return ERRNO_NAMES[code] ?? `errno ${code}`;
    };
    if (fd < 0) return fail(`sd_notify: socket() failed: ${errno()}`);
    const payload = new TextEncoder().encode(message);
    const sent = Number(libc.sendto(fd, payload, payload.length, MSG_DONTWAIT | MSG_NOSIGNAL, address.bytes, address.length));
    if (sent !== payload.length) return fail(`sd_notify to ${socketName} failed: ${sent < 0 ? errno() : `sent ${sent} of ${payload.length} bytes`}`);
    lastError = undefined;
    return true;
  };

  return {
    enabled: socketName !== undefined,
    watchdogIntervalMs,
    send,
    ready: (status) => send(status === undefined ? "READY=1" : `READY=1\n${statusLine(status)}`),
    status: (text) => send(statusLine(text)),
    stopping: (status) => send(status === undefined ? "STOPPING=1" : `STOPPING=1\n${statusLine(status)}`),
    mainPid: (pid) => send(`MAINPID=${pid}`),
    startWatchdog() {
      if (watchdogIntervalMs === null) return () => {};
      send("WATCHDOG=1");
      // Unref'd: the ping must never be what keeps a finished process alive.
      const timer = setInterval(() => send("WATCHDOG=1"), watchdogIntervalMs);
      timer.unref();
      return () => clearInterval(timer);
    },
    close() {
      if (fd >= 0 && libc) libc.close(fd);
      fd = -1;
    },
  };
}

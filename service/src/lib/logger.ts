/**
 * One JSON line per event on stdout (journald and `docker logs` keep it as is).
 * Shared by the service and the supervisor.
 */
import { writeSync } from "node:fs";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

type Sink = (line: string) => void;

/** How long an exiting process waits for a full stdout pipe to take the last lines; 5 s. */
const EXIT_FLUSH_MS = 5_000;
/** How soon a write the pipe refused is tried again; 5 ms. */
const RETRY_MS = 5;

/**
 * Lines wait for the end of the event-loop turn and go out in one write(2) on fd 1: with the
 * access log on, one write per request was half of the log's cost. Not `process.stdout`: Bun
 * drops what that stream still holds when the process exits, so the last lines of a shutdown or
 * a crash could vanish. When the pipe is full (Bun makes fd 1 non-blocking), the rest is kept
 * here, in order, and tried again; at exit it is written before the process ends.
 */
function turnBatchedStdout(): Sink {
  let lines: string[] = [];
  let refused: Uint8Array | undefined;
  let scheduled = false;
  let exitHooked = false;

  /** Writes what it can; false when the pipe refused the rest (kept in `refused`). */
  const writeHeld = (): boolean => {
    if (lines.length > 0) {
      const fresh = Buffer.from(lines.join(""));
      lines = [];
      refused = refused ? Buffer.concat([refused, fresh]) : fresh;
    }
    let offset = 0;
    try {
      while (refused && offset < refused.length) offset += writeSync(1, refused, offset);
    } catch (error) {
      if ((error as { code?: unknown }).code === "EAGAIN") {
        refused = refused!.subarray(offset);
        return false;
      }
      // The reader is gone (EPIPE) or stdout is closed: logging must not take the process down.
    }
    refused = undefined;
    return true;
  };
  const flush = () => {
    scheduled = false;
    if (!writeHeld()) {
      scheduled = true;
      setTimeout(flush, RETRY_MS);
    }
  };
  const flushBeforeExit = () => {
    const deadline = Date.now() + EXIT_FLUSH_MS;
    while (!writeHeld() && Date.now() < deadline) Bun.sleepSync(1);
  };
  return (line) => {
    lines.push(line + "\n");
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
    if (!exitHooked) {
      exitHooked = true;
      process.on("exit", flushBeforeExit);
    }
  };
}

let stdoutSink: Sink | undefined;

/** Errors do not serialise with JSON.stringify; keep their name and message (never the stack on the wire). */
const loggable = (value: unknown) =>
  value instanceof Error ? { name: value.name, message: value.message, code: (value as { code?: unknown }).code } : value;

let isoMs = -1;
let isoText = "";
/** Lines of one millisecond share one timestamp string. */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

export function createLogger(level: LogLevel = "info", base: LogFields = {}, sink?: Sink): Logger {
  const min = LEVEL_RANK[level];
  const out = sink ?? (stdoutSink ??= turnBatchedStdout());
  const write = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (LEVEL_RANK[lvl] < min) return;
    // Same keys in the same order as `{ time, level, msg, ...base, ...fields }`, without the copies.
    const entry: LogFields = { time: isoNow(), level: lvl, msg };
    for (const key in base) entry[key] = base[key];
    if (fields) for (const key in fields) entry[key] = loggable(fields[key]);
    out(JSON.stringify(entry));
  };
  return {
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    child: (fields) => createLogger(level, { ...base, ...fields }, out),
  };
}

/** For tests and tools that must stay quiet. */
export const silentLogger: Logger = createLogger("error", {}, () => {});

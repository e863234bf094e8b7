/**
 * One JSON line per event on stdout (journald and `docker logs` keep it as is), or one readable
 * line (log-text.ts) when a person watches a terminal. Shared by the service and the supervisor.
 */
import { writeSync } from "node:fs";
import { isatty } from "node:tty";
import { textRenderer } from "./log-text.ts";

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
/** Turns one entry into the line a sink receives. */
export type Render = (entry: LogFields) => string;
/** LOG_FORMAT: auto is text on a terminal, JSON anywhere else. */
export type LogFormatSetting = "auto" | "json" | "text";

export const renderJson: Render = (entry) => JSON.stringify(entry);

/** How long an exiting process waits for a full stdout pipe to take the last lines; 5 s. */
const EXIT_FLUSH_MS = 5_000;
/** How soon a write the pipe refused is tried again; 5 ms. */
const RETRY_MS = 5;
/**
 * Most bytes held for a stdout that does not take them (journald stalled, a reader stopped);
 * 4 MiB, about 15,000 access-log lines: a hiccup loses nothing, a reader gone for good costs at
 * most this much memory, not the instance. Lines past it are dropped and counted.
 */
export const STDOUT_HELD_MAX_BYTES = 4 * 1024 * 1024;

/** What the stdout sink holds now and has dropped since the last line that said so. */
export interface StdoutLogStats {
  heldBytes: number;
  dropped: number;
}
const stdoutStats: StdoutLogStats = { heldBytes: 0, dropped: 0 };
/** For tests and /health-like views: the stdout sink's backlog and its not yet reported drops. */
export const stdoutLogStats = (): StdoutLogStats => ({ ...stdoutStats });

/**
 * Lines wait for the end of the event-loop turn and go out in one write(2) on fd 1: with the
 * access log on, one write per request was half of the log's cost. Not `process.stdout`: Bun
 * drops what that stream still holds when the process exits, so the last lines of a shutdown or
 * a crash could vanish. When the pipe is full (fd 1 is made non-blocking below), the rest is
 * kept here, in order, up to STDOUT_HELD_MAX_BYTES, and tried again; at exit it is written before
 * the process ends. Returns false for a line dropped because the backlog is full.
 */
function turnBatchedStdout(): (line: string) => boolean {
  // Bun sets O_NONBLOCK on fd 1 (pipe or journald's socket) when process.stdout is first read, and
  // not before. A process that never touched it wrote into a blocking fd: a full pipe stopped its
  // whole event loop (the supervisor stopped answering /status, probing and restarting).
  void process.stdout;
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
        stdoutStats.heldBytes = refused.length;
        return false;
      }
      // The reader is gone (EPIPE) or stdout is closed: logging must not take the process down.
    }
    refused = undefined;
    stdoutStats.heldBytes = 0;
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
    const size = Buffer.byteLength(line) + 1;
    if (stdoutStats.heldBytes + size > STDOUT_HELD_MAX_BYTES) {
      stdoutStats.dropped++;
      return false;
    }
    stdoutStats.heldBytes += size;
    lines.push(line + "\n");
    if (scheduled) return true;
    scheduled = true;
    setImmediate(flush);
    if (!exitHooked) {
      exitHooked = true;
      process.on("exit", flushBeforeExit);
    }
    return true;
  };
}

let stdoutSink: ((line: string) => boolean) | undefined;
// JSON until the program says otherwise: CLI tools and tests keep today's lines.
let stdoutRender: Render = renderJson;
/** Renders an entry as this process's own stdout lines look (setStdoutFormat). */
export const followStdout: Render = (entry) => stdoutRender(entry);

/**
 * How this process writes its lines to stdout; `serve` and the supervisor's daemon call it first
 * thing. Each process decides by its own fd 1: instances spawned by the quick start inherit the
 * supervisor's terminal, under systemd every one gets a journal pipe.
 */
export function setStdoutFormat(opts: { format: LogFormatSetting; noColor: boolean; component: string; terminal?: boolean }): "json" | "text" {
  const terminal = opts.terminal ?? isatty(1);
  const text = opts.format === "text" || (opts.format === "auto" && terminal);
  stdoutRender = text ? textRenderer({ color: terminal && !opts.noColor, component: opts.component }) : renderJson;
  return text ? "text" : "json";
}

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

/** Without a sink, lines go to stdout in its format (setStdoutFormat); a sink gets JSON unless `render` says otherwise. */
export function createLogger(level: LogLevel = "info", base: LogFields = {}, sink?: Sink, render?: Render): Logger {
  const min = LEVEL_RANK[level];
  const toStdout = sink === undefined;
  // The stdout sink answers false for a line it dropped; a caller's sink answers nothing.
  const out: (line: string) => unknown = sink ?? (stdoutSink ??= turnBatchedStdout());
  const toLine = render ?? (sink ? renderJson : followStdout);
  const write = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (LEVEL_RANK[lvl] < min) return;
    // Same keys in the same order as `{ time, level, msg, ...base, ...fields }`, without the copies.
    const entry: LogFields = { time: isoNow(), level: lvl, msg };
    for (const key in base) entry[key] = base[key];
    if (fields) for (const key in fields) entry[key] = loggable(fields[key]);
    // The first line stdout takes after a stall says how many were lost before it.
    const dropped = toStdout ? stdoutStats.dropped : 0;
    if (dropped > 0) entry.log_lines_dropped = dropped;
    if (out(toLine(entry)) !== false && dropped > 0) stdoutStats.dropped -= dropped;
  };
  return {
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    // The same sink and render as this logger: a child of the stdout logger also reports drops.
    child: (fields) => createLogger(level, { ...base, ...fields }, sink, render),
  };
}

/** For tests and tools that must stay quiet. */
export const silentLogger: Logger = createLogger("error", {}, () => {});

/**
 * @module One log entry as one line a person reads at a terminal:
 * `14:03:07.412 WARN  8081       database not ready; retrying  error="connect ECONNREFUSED" retry_in_ms=250`.
 * Only for a terminal: journald and log shippers get the JSON line (logger.ts), which keeps
 * every field.
 */
import type { LogFields, LogLevel } from "./logger.ts";

export interface TextStyle {
  /** ANSI colour for the level (a terminal, and NO_COLOR unset). */
  color: boolean;
  /** Who wrote the line: "supervisor", or an instance's port; an entry's own `component` field wins. */
  component: string;
}

const LEVEL_TEXT: Record<LogLevel, string> = { debug: "DEBUG", info: "INFO ", warn: "WARN ", error: "ERROR" };
const LEVEL_COLOR: Record<LogLevel, string> = { debug: "\x1b[90m", info: "\x1b[32m", warn: "\x1b[33m", error: "\x1b[1;31m" };
const RESET = "\x1b[0m";

// Shown elsewhere on the line (time, level, msg, service as the component), or only useful to
// a machine: a request id matters when something failed, not on every healthy request.
const ALWAYS_SKIPPED = new Set(["time", "level", "msg", "service", "component"]);
const SKIPPED_BELOW_WARN = new Set(["request_id", "route"]);
const MAX_VALUE_CHARS = 160;
const BARE = /^[\w.:/@+,-]+$/;

const two = (n: number) => (n < 10 ? `0${n}` : String(n));
const three = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));

/** Local wall-clock time: an operator compares it with the clock on their screen, not with UTC. */
function clock(iso: unknown): string {
  const d = typeof iso === "string" ? new Date(iso) : new Date();
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${three(d.getMilliseconds())}`;
}

function shown(value: unknown): string {
  if (typeof value === "string") {
    const text = value.length > MAX_VALUE_CHARS ? `${value.slice(0, MAX_VALUE_CHARS)}…` : value;
    return BARE.test(text) ? text : JSON.stringify(text);
  }
  if (typeof value !== "object" || value === null) return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v !== "object" || v === null)) return value.join(",");
  // An error as logger.ts keeps it: { name, message, code }.
  const { message, code } = value as { message?: unknown; code?: unknown };
  if (typeof message === "string") return shown(code === undefined ? message : `${message} (${String(code)})`);
  return shown(JSON.stringify(value));
}

/** Renders one entry (the object logger.ts would serialise) as one line, without the newline. */
export function formatText(entry: LogFields, style: TextStyle): string {
  const level = (entry.level as LogLevel) ?? "info";
  const label = style.color ? `${LEVEL_COLOR[level]}${LEVEL_TEXT[level]}${RESET}` : LEVEL_TEXT[level];
  // A part with its own logger (the supervisor's Caddy) names itself.
  const component = typeof entry.component === "string" ? entry.component : style.component;
  let line = `${clock(entry.time)} ${label} ${component.padEnd(10)} ${String(entry.msg)}`;
  let separator = "  ";
  const quiet = level === "debug" || level === "info";
  for (const key in entry) {
    const value = entry[key];
    if (value === undefined || ALWAYS_SKIPPED.has(key) || (quiet && SKIPPED_BELOW_WARN.has(key))) continue;
    line += `${separator}${key}=${shown(value)}`;
    separator = " ";
  }
  return line;
}

/** A renderer for logger.ts with a fixed style. */
export const textRenderer = (style: TextStyle) => (entry: LogFields): string => formatText(entry, style);

/**
 * @module The console's live log: the last lines of the supervisor and of every instance, held
 * in a bounded ring (old lines fall off; memory stays flat however chatty the fleet is) and
 * handed to each subscriber (an open Server-Sent Events stream) as they arrive.
 */
import type { LogFields, LogLevel, Logger } from "../../../service/src/lib/logger.ts";

export interface LogEntry {
  /** Increasing number of this line in this supervisor process; the SSE event id. */
  seq: number;
  time: string;
  level: LogLevel;
  /** "supervisor" or the instance's port. */
  source: string;
  msg: string;
  request_id: string | null;
  /** The other fields, as key=value text (bounded). */
  detail: string;
  /** An access-log line of a probe or scrape route (see LogFilter.hideProbes). */
  probe: boolean;
}

export interface LogFilter {
  /** Least severe level shown. */
  level?: LogLevel;
  source?: string;
  requestId?: string;
  /** Leave out the access-log lines of the supervisor's own probes and scrapes (one per instance a second). */
  hideProbes?: boolean;
}

const PROBE_ROUTES = new Set(["/ready", "/live", "/health", "/metrics"]);

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SHOWN_ELSEWHERE = new Set(["time", "level", "msg", "service", "component", "request_id"]);
/** Longest detail kept per line; a stack-sized field must not fill the ring. */
const DETAIL_MAX_CHARS = 600;

export const isLogLevel = (value: unknown): value is LogLevel => typeof value === "string" && value in LEVEL_RANK;

export function matches(entry: LogEntry, filter: LogFilter): boolean {
  if (filter.level && LEVEL_RANK[entry.level] < LEVEL_RANK[filter.level]) return false;
  if (filter.source && entry.source !== filter.source) return false;
  if (filter.requestId && entry.request_id !== filter.requestId) return false;
  if (filter.hideProbes && entry.probe) return false;
  return true;
}

function detailOf(fields: LogFields): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (SHOWN_ELSEWHERE.has(key) || value === undefined) continue;
    const text = typeof value === "string" ? value : value instanceof Error ? value.message : JSON.stringify(value);
    parts.push(`${key}=${text}`);
  }
  const text = parts.join(" ");
  return text.length > DETAIL_MAX_CHARS ? `${text.slice(0, DETAIL_MAX_CHARS)}…` : text;
}

export type LogBuffer = ReturnType<typeof createLogBuffer>;

/** `capacity`: lines kept (default 2000). */
export function createLogBuffer(capacity = 2_000) {
  const ring: LogEntry[] = [];
  const subscribers = new Set<(entry: LogEntry) => void>();
  let seq = 0;

  const add = (source: string, fields: LogFields) => {
    const level = isLogLevel(fields.level) ? fields.level : "info";
    const entry: LogEntry = {
      seq: ++seq, time: typeof fields.time === "string" ? fields.time : new Date().toISOString(), level, source,
      msg: String(fields.msg ?? ""), request_id: typeof fields.request_id === "string" ? fields.request_id : null, detail: detailOf(fields),
      probe: fields.msg === "request" && typeof fields.route === "string" && PROBE_ROUTES.has(fields.route),
    };
    ring.push(entry);
    if (ring.length > capacity) ring.shift();
    for (const subscriber of subscribers) subscriber(entry);
    return entry;
  };

  return {
    add,
    /** One line of an instance's output: a JSON log record, or plain text kept as its message. */
    addLine(source: string, line: string) {
      if (line.trim() === "") return;
      if (line.startsWith("{")) {
        try {
          const parsed: unknown = JSON.parse(line);
          if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) return void add(source, parsed as LogFields);
        } catch { /* not JSON after all: kept as text below */ }
      }
      add(source, { level: "info", msg: line.slice(0, DETAIL_MAX_CHARS) });
    },
    /** Lines kept now that pass `filter`, oldest first, at most `limit`. */
    recent(filter: LogFilter, limit = 500): LogEntry[] {
      return ring.filter((e) => matches(e, filter)).slice(-limit);
    },
    subscribe(listener: (entry: LogEntry) => void): () => void {
      subscribers.add(listener);
      return () => subscribers.delete(listener);
    },
    subscriberCount: () => subscribers.size,
  };
}

/** A logger that writes as `logger` does and also hands every entry it writes to `record`. */
export function teeLogger(logger: Logger, record: (fields: LogFields) => void, level: LogLevel, base: LogFields = {}): Logger {
  const min = LEVEL_RANK[level];
  const write = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (LEVEL_RANK[lvl] >= min) record({ time: new Date().toISOString(), level: lvl, msg, ...base, ...fields });
  };
  return {
    debug: (msg, fields) => { logger.debug(msg, fields); write("debug", msg, fields); },
    info: (msg, fields) => { logger.info(msg, fields); write("info", msg, fields); },
    warn: (msg, fields) => { logger.warn(msg, fields); write("warn", msg, fields); },
    error: (msg, fields) => { logger.error(msg, fields); write("error", msg, fields); },
    child: (fields) => teeLogger(logger.child(fields), record, level, { ...base, ...fields }),
  };
}

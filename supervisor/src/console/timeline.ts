/**
 * @module The incident timeline: what happened to this stack and when (alerts raised and
 * resolved, crashes and restarts, rolling restarts, backups, restore drills, load tests,
 * supervisor starts and stops), read from the supervisor's own log records as they are written, so no part needs
 * a second hook. Appended to a JSON-lines file beside the control token, so it outlives a
 * supervisor restart; the file is cut back to the newest entries at start.
 */
import { appendFile, chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { LogFields } from "../../../service/src/lib/logger.ts";

export type TimelineKind = "alert" | "resolved" | "crash" | "restart" | "deploy" | "backup" | "drill" | "load" | "supervisor";

export interface TimelineEvent {
  at: string;
  kind: TimelineKind;
  severity: "info" | "warning" | "critical";
  title: string;
  cause: string | null;
  duration_seconds: number | null;
  /** The alert's key (alert and resolved), to pair a resolve with its raise. */
  key?: string;
}

/** Entries shown and kept after the start's compaction; the file may grow to COMPACT_AT before that. */
const KEEP = 500;
const COMPACT_AT = 2_000;

const text = (value: unknown): string | null => (value === undefined || value === null ? null : value instanceof Error ? value.message : typeof value === "string" ? value : JSON.stringify(value));
const seconds = (value: unknown): number | null => (typeof value === "number" && Number.isFinite(value) ? value : null);
const level = (fields: LogFields): TimelineEvent["severity"] => (fields.level === "error" ? "critical" : fields.level === "warn" ? "warning" : "info");

type Draft = Omit<TimelineEvent, "at" | "duration_seconds"> & { duration_seconds?: number | null };

/** Which log records are events, and what each says. Anything not listed is not an event. */
const EVENTS: Record<string, (f: LogFields) => Draft> = {
  "alert raised": (f) => ({ kind: "alert", severity: f.severity === "critical" ? "critical" : f.severity === "warning" ? "warning" : "info", title: text(f.title) ?? "alert", cause: text(f.detail) }),
  "alert resolved": (f) => ({ kind: "resolved", severity: "info", title: text(f.title) ?? "resolved", cause: text(f.detail) }),
  "instance exited": (f) => ({ kind: "crash", severity: "critical", title: `instance ${text(f.port)} exited`, cause: f.signal ? `signal ${text(f.signal)}` : `exit code ${text(f.code)}` }),
  "restarting instance": (f) => ({ kind: "restart", severity: "warning", title: `instance ${text(f.port)} restarted by the watcher`, cause: text(f.reason) }),
  "console restart finished": (f) => ({ kind: "restart", severity: f.ok ? "info" : "critical", title: `instance ${text(f.port)} restarted from the console`, cause: text(f.detail), duration_seconds: seconds(f.duration_s) }),
  "rolling restart finished": (f) => ({ kind: "deploy", severity: f.ok ? "info" : "critical", title: "rolling restart", cause: text(f.detail), duration_seconds: seconds(f.duration_s) }),
  "backup done": (f) => ({ kind: "backup", severity: "info", title: "backup done", cause: text(f.file), duration_seconds: seconds(f.duration_s) }),
  "backup failed": (f) => ({ kind: "backup", severity: "critical", title: "backup failed", cause: text(f.err), duration_seconds: seconds(f.duration_s) }),
  "restore check passed": (f) => ({ kind: "drill", severity: "info", title: "restore drill passed", cause: text(f.file) }),
  "restore check failed": (f) => ({ kind: "drill", severity: "critical", title: "restore drill failed", cause: text(f.err) }),
  "console drill finished": (f) => ({
    kind: "drill", severity: f.met === true ? "info" : "critical", title: `drill ${text(f.fault)}: ${f.met === true ? "met" : f.met === false ? "NOT MET" : "not run"}`,
    cause: text(f.why) ?? text(f.promise), duration_seconds: seconds(f.duration_s),
  }),
  "console load test finished": (f) => ({
    kind: "load", severity: f.error ? "critical" : Number(f.failed) > 0 ? "warning" : "info", title: `load test: ${text(f.users)} users`,
    cause: f.error ? text(f.error) : `${text(f.requests)} requests, ${text(f.failed)} failed, p50 ${text(f.p50_ms)} ms, p99 ${text(f.p99_ms)} ms`, duration_seconds: seconds(f.duration_s),
  }),
  "supervisor started": () => ({ kind: "supervisor", severity: "info", title: "supervisor started", cause: null }),
  "supervisor stopping": (f) => ({ kind: "supervisor", severity: "info", title: "supervisor stopping", cause: text(f.reason) }),
};

export type Timeline = Awaited<ReturnType<typeof openTimeline>>;

function parseLines(content: string): TimelineEvent[] {
  return content.split("\n").flatMap((line) => {
    try { return line ? [JSON.parse(line) as TimelineEvent] : []; } catch { return []; }
  });
}

/** Reads `path` (missing is empty), compacts it, and returns the timeline that appends to it. */
export async function openTimeline(path: string, onWriteError: (error: unknown) => void) {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const content = await readFile(path, "utf8").catch(() => "");
  const stored = parseLines(content);
  const events = stored.slice(-KEEP);
  if (stored.length > COMPACT_AT) await writeFile(path, events.map((e) => `${JSON.stringify(e)}\n`).join(""), { mode: 0o600 });
  // A line torn by a crash mid-write is ended, so the next event does not join it.
  else await appendFile(path, content === "" || content.endsWith("\n") ? "" : "\n", { mode: 0o600 });
  await chmod(path, 0o600);
  // Alert keys raised and not yet resolved, from the stored history too: a resolve after a restart still gets its duration.
  const openAlerts = new Map<string, number>();
  for (const e of events) {
    if (e.kind === "alert" && e.key) openAlerts.set(e.key, Date.parse(e.at));
    if (e.kind === "resolved" && e.key) openAlerts.delete(e.key);
  }
  let writes = Promise.resolve();

  const append = (event: TimelineEvent) => {
    events.push(event);
    if (events.length > KEEP) events.shift();
    writes = writes.then(() => appendFile(path, `${JSON.stringify(event)}\n`, { mode: 0o600 })).catch(onWriteError);
  };

  return {
    /** Every log record the supervisor writes passes here; the listed ones become events. */
    observe(fields: LogFields): void {
      const describe = typeof fields.msg === "string" ? EVENTS[fields.msg] : undefined;
      if (!describe) return;
      const at = typeof fields.time === "string" ? fields.time : new Date().toISOString();
      const draft = describe(fields);
      const key = text(fields.key);
      let duration = draft.duration_seconds ?? null;
      if (draft.kind === "alert" && key) openAlerts.set(key, Date.parse(at));
      if (draft.kind === "resolved" && key && openAlerts.has(key)) {
        duration = (Date.parse(at) - openAlerts.get(key)!) / 1000;
        openAlerts.delete(key);
      }
      append({ ...draft, at, duration_seconds: duration, ...(key && (draft.kind === "alert" || draft.kind === "resolved") ? { key } : {}) });
    },
    /** Newest first. */
    list: (): TimelineEvent[] => [...events].reverse(),
    /** Resolves once every event so far is on disk (tests, and stop). */
    flushed: () => writes,
  };
}

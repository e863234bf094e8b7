/**
 * @module The instances' output on its way to the supervisor's own: cut into lines, each kept in
 * the console's live log and passed on to the supervisor's stdout (or stderr) as the operator
 * would have seen it had the instances written there themselves: the JSON line unchanged, or, on
 * a terminal, the same readable line an instance renders (log-text.ts).
 */
import { createLogger, followStdout, type LogFields } from "../../../service/src/lib/logger.ts";
import { textRenderer } from "../../../service/src/lib/log-text.ts";
import type { InstanceOutputSink } from "../runners/process.ts";
import type { LogBuffer } from "./log-buffer.ts";

export interface InstanceOutputOptions {
  buffer: LogBuffer;
  /** What the supervisor's stdout gets: "json" lines as they came, "text" rendered, "none" (tests, `output: ignore`). */
  forward: "json" | "text" | "none";
  /** ANSI colours in the text form. */
  color: boolean;
}

/** A line longer than this without a newline is cut, so one runaway write cannot hold memory. */
const LINE_MAX_CHARS = 64 * 1024;

export function instanceOutput(opts: InstanceOutputOptions): InstanceOutputSink {
  const partial = new Map<string, string>();
  // The logger's own stdout sink (batched, never blocking, bounded), reused for lines that are
  // already rendered: its render function returns the text as it is. When lines were dropped
  // (stdout stalled), a supervisor line saying how many goes first, as for its own log lines.
  const stdout = createLogger("debug", {}, undefined, (entry) => {
    const dropped = entry.log_lines_dropped;
    if (dropped === undefined) return String(entry.msg);
    const notice = followStdout({ time: entry.time, level: "warn", msg: "log lines dropped", service: "linkfort-supervisor", log_lines_dropped: dropped });
    return `${notice}\n${String(entry.msg)}`;
  });
  const renderers = new Map<number, (entry: LogFields) => string>();
  const rendered = (port: number, line: string): string => {
    if (opts.forward !== "text" || !line.startsWith("{")) return line;
    let render = renderers.get(port);
    if (!render) renderers.set(port, (render = textRenderer({ color: opts.color, component: String(port) })));
    try {
      return render(JSON.parse(line) as LogFields);
    } catch {
      return line;
    }
  };
  const emit = (port: number, line: string, stream: "stdout" | "stderr") => {
    opts.buffer.addLine(String(port), line);
    if (opts.forward === "none") return;
    if (stream === "stderr") process.stderr.write(`${line}\n`);
    else stdout.info(rendered(port, line));
  };
  return (port, text, stream) => {
    const key = `${port}:${stream}`;
    const lines = ((partial.get(key) ?? "") + text).split("\n");
    let rest = lines.pop() ?? "";
    for (const line of lines) emit(port, line, stream);
    if (rest.length > LINE_MAX_CHARS) {
      emit(port, rest, stream);
      rest = "";
    }
    partial.set(key, rest);
  };
}

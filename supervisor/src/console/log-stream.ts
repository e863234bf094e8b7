/**
 * @module One live log as Server-Sent Events: the kept lines that pass the filter (after the
 * client's last event id, so a reconnect misses nothing still held), then each new one as it
 * comes. A client that stops reading loses lines, never the supervisor's memory: past a fixed
 * number of queued events new ones are dropped and counted, and the client is told.
 */
import { matches, type LogBuffer, type LogEntry, type LogFilter } from "./log-buffer.ts";

/** Events queued for one client before new ones are dropped. */
const QUEUE_MAX = 1_000;
/** A comment this often keeps proxies and Bun from closing a quiet stream (ms). */
const KEEP_ALIVE_MS = 15_000;
/** Lines sent from the buffer when a stream opens. */
const BACKLOG_MAX = 300;

const event = (entry: LogEntry) => `id: ${entry.seq}\ndata: ${JSON.stringify(entry)}\n\n`;

export function logStream(logs: LogBuffer, filter: LogFilter, afterSeq: number, signal: AbortSignal): ReadableStream<string> {
  let unsubscribe = () => {};
  let timer: ReturnType<typeof setInterval> | undefined;
  const close = () => { unsubscribe(); clearInterval(timer); };
  return new ReadableStream<string>({
    start(controller) {
      let dropped = 0;
      const send = (text: string) => {
        if ((controller.desiredSize ?? 0) <= 0) { dropped++; return; }
        if (dropped > 0) {
          controller.enqueue(`event: dropped\ndata: ${dropped}\n\n`);
          dropped = 0;
        }
        controller.enqueue(text);
      };
      controller.enqueue("retry: 2000\n\n");
      for (const entry of logs.recent(filter, BACKLOG_MAX)) if (entry.seq > afterSeq) controller.enqueue(event(entry));
      unsubscribe = logs.subscribe((entry) => { if (matches(entry, filter)) send(event(entry)); });
      timer = setInterval(() => send(": keep-alive\n\n"), KEEP_ALIVE_MS);
      signal.addEventListener("abort", () => {
        close();
        try { controller.close(); } catch { /* already closed */ }
      }, { once: true });
    },
    cancel: close,
  }, new CountQueuingStrategy({ highWaterMark: QUEUE_MAX }));
}

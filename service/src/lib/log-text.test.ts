/** The terminal log format, through the logger as the programs use it, and when each format is chosen. */
import { afterEach, describe, expect, test } from "bun:test";
import { textRenderer } from "./log-text.ts";
import { createLogger, setStdoutFormat } from "./logger.ts";

const TIME = "\\d\\d:\\d\\d:\\d\\d\\.\\d{3}";

function textLogger(color: boolean) {
  const lines: string[] = [];
  const logger = createLogger("debug", { service: "linkfort" }, (line) => lines.push(line), textRenderer({ color, component: "8081" }));
  return { logger, lines };
}

describe("text log lines", () => {
  test("time, level, component, message, then the fields as key=value, quoted only when needed", () => {
    const { logger, lines } = textLogger(false);
    logger.info("listening", { version: "0.1.0", host: "127.0.0.1", port: 8081, auth: "keys" });
    logger.warn("database not ready; retrying", { error: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }), retry_in_ms: 250 });
    logger.child({ component: "caddy" }).info("caddy started", { upstreams: ["127.0.0.1:8081", "127.0.0.1:8082"], note: 'says "hi"', gone: undefined, nothing: null });
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^${TIME} INFO  8081       listening  version=0\\.1\\.0 host=127\\.0\\.0\\.1 port=8081 auth=keys$`));
    expect(lines[1]).toMatch(new RegExp(`^${TIME} WARN  8081       database not ready; retrying  error="connect ECONNREFUSED 127\\.0\\.0\\.1:5432 \\(ECONNREFUSED\\)" retry_in_ms=250$`));
    expect(lines[2]).toMatch(new RegExp(`^${TIME} INFO  caddy      caddy started  upstreams=127\\.0\\.0\\.1:8081,127\\.0\\.0\\.1:8082 note="says \\\\"hi\\\\"" nothing=null$`));
  });

  test("a request id and route show only when something went wrong", () => {
    const { logger, lines } = textLogger(false);
    const request = { request_id: "01931", method: "GET", route: "/:short_code", path: "/abc", status: 302, duration_ms: 0.4 };
    logger.info("request", request);
    logger.error("request failed", { ...request, status: 500 });
    expect(lines[0]).toMatch(new RegExp(`^${TIME} INFO  8081       request  method=GET path=/abc status=302 duration_ms=0\\.4$`));
    expect(lines[1]).toMatch(new RegExp(`^${TIME} ERROR 8081       request failed  request_id=01931 method=GET route=/:short_code path=/abc status=500 duration_ms=0\\.4$`));
  });

  test("the level is coloured only when asked, and a line never spans two", () => {
    const { logger, lines } = textLogger(true);
    logger.warn("slow", { detail: "line one\nline two" });
    logger.debug("probe");
    expect(lines[0]).toContain("\x1b[33mWARN \x1b[0m 8081       slow  detail=\"line one\\nline two\"");
    expect(lines[1]).toContain("\x1b[90mDEBUG\x1b[0m");
    expect(lines.join("")).not.toContain("\n");
  });

  test("the time is the entry's own, in local time", () => {
    const render = textRenderer({ color: false, component: "supervisor" });
    const at = new Date(2026, 0, 2, 3, 4, 5, 6);
    expect(render({ time: at.toISOString(), level: "info", msg: "m" })).toBe("03:04:05.006 INFO  supervisor m");
  });
});

describe("stdout format", () => {
  afterEach(() => { setStdoutFormat({ format: "json", noColor: false, component: "test" }); });

  test("auto is text on a terminal and JSON elsewhere; json and text are what they say", () => {
    expect(setStdoutFormat({ format: "auto", noColor: false, component: "x", terminal: true })).toBe("text");
    expect(setStdoutFormat({ format: "auto", noColor: false, component: "x", terminal: false })).toBe("json");
    expect(setStdoutFormat({ format: "json", noColor: false, component: "x", terminal: true })).toBe("json");
    expect(setStdoutFormat({ format: "text", noColor: false, component: "x", terminal: false })).toBe("text");
  });

  test("a sink without a renderer keeps one JSON object per line whatever stdout does", () => {
    setStdoutFormat({ format: "text", noColor: false, component: "x", terminal: true });
    const lines: string[] = [];
    createLogger("info", { service: "linkfort" }, (line) => lines.push(line)).child({ port: 8081 }).info("listening", { pid: 1 });
    expect(JSON.parse(lines[0]!)).toEqual({ time: expect.any(String), level: "info", msg: "listening", service: "linkfort", port: 8081, pid: 1 });
  });
});

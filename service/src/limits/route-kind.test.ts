import { describe, expect, test } from "bun:test";
import { routeKind } from "./route-kind.ts";

describe("routeKind", () => {
  test.each([
    ["GET", "/abc123", "redirect"],
    ["HEAD", "/abc123/", "redirect"],
    ["GET", "/users", "read"],
    ["GET", "/urls/5", "read"],
    ["GET", "/urls/5/stats", "read"],
    ["GET", "/admin/bans", "read"],
    ["GET", "/", "read"],
    ["POST", "/users", "write"],
    ["PUT", "/urls/1", "write"],
    ["DELETE", "/admin/bans/3", "write"],
    ["POST", "/abc123", "write"],
    ["GET", "/health", "exempt"],
    ["GET", "/live", "exempt"],
    ["GET", "/ready", "exempt"],
    ["GET", "/metrics", "exempt"],
    ["GET", "/docs", "exempt"],
    ["GET", "/docs/json", "exempt"],
  ] as const)("%s %s is %s", (method, path, kind) => {
    expect(routeKind(method, path)).toBe(kind);
  });
});

// Runs autocannon in Node (the runtime it is built and measured for) as a separate process, so
// the harness can read its CPU time from /proc and tell when the load tool was the bottleneck.
// Input: one JSON argument (see bench/lib/load.ts LoadSpec). Output: one JSON line on stdout.
import autocannon from "autocannon";
import { readFileSync } from "node:fs";

const spec = JSON.parse(process.argv[2]);
const paths = spec.pathsFile ? readFileSync(spec.pathsFile, "utf8").split("\n").filter(Boolean) : [spec.path ?? "/"];
const headers = { ...(spec.key ? { authorization: `Bearer ${spec.key}` } : {}), ...(spec.userAgent ? { "user-agent": spec.userAgent } : {}) };
const CHARS = "abcdefghijklmnopqrstuvwxyz0123456789";
const unknown = () => { let s = "x"; for (let i = 0; i < 9; i++) s += CHARS[(Math.random() * 36) | 0]; return "/" + s; };
let n = 0;
const createBody = () => JSON.stringify({ user_id: 1 + ((Math.random() * spec.users) | 0), original_url: `https://example.com/new/${process.pid}/${n++}` });

const setupRequest = (req) => {
  if (spec.createRatio > 0 && Math.random() < spec.createRatio) {
    return { ...req, method: "POST", path: "/urls", headers: { ...headers, "content-type": "application/json" }, body: createBody() };
  }
  const path = spec.random404 ? unknown() : paths[(Math.random() * paths.length) | 0];
  return { ...req, method: "GET", path, headers, body: undefined };
};

const statuses = {};
const instance = autocannon({
  url: spec.url, connections: spec.connections, duration: spec.duration, pipelining: 1,
  requests: [{ setupRequest }], timeout: 10,
  ...(spec.rate ? { overallRate: spec.rate } : {}),
});
instance.on("response", (_client, status) => { statuses[status] = (statuses[status] ?? 0) + 1; });
instance.on("done", (r) => {
  process.stdout.write(JSON.stringify({
    rps: r.requests.total / (r.duration || spec.duration), p50: r.latency.p50, p99: r.latency.p99,
    total: r.requests.total, statuses, errors: r.errors, timeouts: r.timeouts,
  }) + "\n");
});

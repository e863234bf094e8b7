/**
 * The baseline: a bare Bun.serve that answers every path with the same 302, the ceiling a
 * redirect in this runtime can reach on this machine. /ready is 200 so Caddy's active health
 * check (the repo's Caddyfile) keeps it in rotation.
 */
const port = Number(process.env.PORT ?? 8090);
const LOCATION = "https://example.com/baseline";

Bun.serve({
  hostname: "127.0.0.1",
  port,
  fetch(req) {
    if (req.url.endsWith("/ready")) return new Response("ok");
    return new Response(null, { status: 302, headers: { location: LOCATION } });
  },
});

// Exit with the harness: it holds our stdin pipe.
void (async () => {
  for await (const _ of Bun.stdin.stream()) { /* nothing is sent */ }
  process.exit(0);
})();

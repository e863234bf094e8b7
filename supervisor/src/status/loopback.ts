/**
 * The status port has no authentication (POST /rolling-restart restarts production), so it
 * binds to loopback and refuses requests a browser could be tricked into sending: a foreign
 * Host (DNS rebinding) or a cross-site Origin (a page posting to 127.0.0.1).
 */
import { isIP } from "node:net";

/** 127.0.0.0/8, ::1 (with or without brackets), ::ffff:127.x and "localhost". */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || h === "0:0:0:0:0:0:0:1" || /^::ffff:127\./.test(h);
  return false;
}

/** The host part of a Host header value ("127.0.0.1:9100", "[::1]:9100", "localhost"). */
export function hostOf(hostHeader: string): string {
  const bracketed = /^\[([^\]]+)\]/.exec(hostHeader);
  if (bracketed) return bracketed[1] ?? "";
  return hostHeader.split(":")[0] ?? "";
}

/** Why this request must be refused, or undefined when it may go on. */
export function refusal(req: Request, opts: { loopbackOnly: boolean }): string | undefined {
  const host = req.headers.get("host") ?? "";
  if (opts.loopbackOnly && !isLoopbackHost(hostOf(host))) return `Host "${host}" is not a loopback name`;
  if (req.method === "GET") return undefined;
  if (req.headers.get("sec-fetch-site") === "cross-site") return "cross-site request";
  const origin = req.headers.get("origin");
  if (origin !== null) {
    let originHost: string | undefined;
    try { originHost = new URL(origin).host; } catch { /* "null" or garbage: refused below */ }
    if (originHost !== host) return `Origin "${origin}" is not this server`;
  }
  return undefined;
}

/**
 * GET /:code+ (the code, then a literal '+'): a small page that shows where a link leads, for
 * people who want to check it before following it. No redirect and no click. The page is built
 * from one stored URL, so everything in it is escaped, it carries a CSP that allows no script and
 * no load from anywhere (its one style block by hash), and the destination is a link only when it
 * is an http(s) URL with a host, the API's own rule for original_url.
 */
import { createHash } from "node:crypto";
import { t } from "elysia";
import { originalUrlProblem } from "../urls/model.ts";
import { redirectAnswer } from "./answer.ts";
import type { Found, Outcome } from "./model.ts";

/** The path suffix that asks for the preview instead of the redirect. */
export const PREVIEW_SUFFIX = "+";

/** The code a preview path names (`abc123+` → `abc123`), or undefined for any other path. */
export const previewedCode = (segment: string): string | undefined =>
  segment.length > 1 && segment.endsWith(PREVIEW_SUFFIX) ? segment.slice(0, -PREVIEW_SUFFIX.length) : undefined;

const STYLE = "body{font:16px/1.5 system-ui,sans-serif;margin:0;padding:2rem 1rem;background:#f6f6f4;color:#1d1d1b}"
  + "main{max-width:40rem;margin:0 auto;background:#fff;border:1px solid #d8d8d4;border-radius:8px;padding:1.5rem}"
  + "h1{font-size:1.25rem;margin:0 0 1rem}.destination{font-family:ui-monospace,monospace;overflow-wrap:anywhere;"
  + "background:#f0f0ec;padding:.75rem;border-radius:4px}a{color:#0b57d0}.note{color:#555;font-size:.9rem}";

/** The page's policy: nothing loads, nothing runs, nothing frames it, no form posts, no <base> moves its link. */
export const PREVIEW_CSP = `default-src 'none'; style-src 'sha256-${createHash("sha256").update(STYLE).digest("base64")}'; `
  + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const HEADERS = {
  "Content-Type": "text/html; charset=utf-8",
  "Content-Security-Policy": PREVIEW_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  // Browsers without frame-ancestors.
  "X-Frame-Options": "DENY",
  // Shows the destination as it is now: a changed or deactivated link must not be shown from a cache.
  "Cache-Control": "no-store",
};

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text made safe for HTML element content and quoted attribute values. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** The host a person should check (IDNs in their xn-- form, so a lookalike shows), or undefined. */
function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host || undefined;
  } catch {
    return undefined;
  }
}

/** The page for a live link. */
export function previewPage(shortCode: string, found: Found): string {
  const destination = escapeHtml(found.location);
  const linkable = originalUrlProblem(found.location) === undefined;
  const host = linkable ? hostOf(found.location) : undefined;
  const code = escapeHtml(shortCode);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>Where /${code} leads</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>The short link /${code} leads to</h1>
<p class="destination">${linkable ? `<a href="${destination}" rel="noopener noreferrer nofollow">${destination}</a>` : destination}</p>
${host === undefined ? "<p>This destination is not an http or https address, so it is not offered as a link.</p>" : `<p>Host: <strong>${escapeHtml(host)}</strong></p>`}
${found.options?.forwardQuery ? "<p>A query string added to the short link is passed on to this address.</p>\n" : ""}<p class="note">Opening this page did not visit the destination and was not counted as a click. Follow the link only if you trust that address.</p>
</main>
</body>
</html>
`;
}

/** The 200 answer in the OpenAPI document (the redirect route's own, since `/abc123+` is that route). */
export const PreviewPage = t.String({
  contentMediaType: "text/html",
  description: "only for a code followed by '+' (GET /abc123+): an HTML page showing where the link leads, with a link to it; "
    + "no redirect, no click counted. Unknown, inactive or expired codes answer the redirect's own 404 and 410 JSON",
  examples: ['<!doctype html>\n<html lang="en">…<h1>The short link /abc123 leads to</h1>\n<p class="destination">'
    + '<a href="https://example.com/docs" rel="noopener noreferrer nofollow">https://example.com/docs</a></p>…</html>'],
});

/**
 * 200 with the page for a live link; anything else as the redirect answers it (the same JSON 404
 * and 410s). For HEAD, Bun's server sends the same status and headers (its Content-Length too) and drops the body.
 */
export function previewAnswer(value: Outcome, shortCode: string, request: Request): Response {
  if (value.kind !== "found") return redirectAnswer(value, shortCode, request);
  const page = previewPage(shortCode, value);
  return new Response(page, { headers: { ...HEADERS, "x-cache": value.source } });
}

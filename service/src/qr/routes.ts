/** GET /urls/:id/qr: a QR code of the link's short URL; same auth as GET /urls/:id. */
import { Elysia } from "elysia";
import { authenticated, type Authenticator } from "../http/auth.ts";
import { ErrorBody } from "../http/openapi.ts";
import { parsePathId, pathId } from "../http/params.ts";
import { QrHeaders, QrImage, QrNotModified, QrQuery } from "./model.ts";
import type { QrAnswer, QrService } from "./service.ts";

// private: only the key's holder may see it, so no shared cache keeps it. no-cache: the client
// asks again each time (a 304 with no drawing while nothing changed), so a revoked key, a deleted
// link or a new PUBLIC_URL takes effect at once.
const CACHING = { "Cache-Control": "private, no-cache", Vary: "Authorization" };
// An SVG opened on its own is a document: it may run nothing and load nothing.
const IMAGE_ONLY = { "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'", "X-Content-Type-Options": "nosniff" };

const qrResponse = (answer: QrAnswer): Response => answer.kind === "unchanged"
  ? new Response(null, { status: 304, headers: { ETag: answer.etag, ...CACHING } })
  : new Response(answer.body, { headers: { "Content-Type": answer.mediaType, ETag: answer.etag, ...CACHING, ...IMAGE_ONLY } });

export function qrRoutes(deps: { auth: Authenticator; qr: QrService }) {
  const { qr } = deps;
  return new Elysia({ prefix: "/urls" })
    .use(authenticated(deps.auth))
    .get("/:id/qr", async ({ principal, params, query, headers }) =>
      qrResponse(await qr.image(principal, parsePathId(params.id, "url"), query, headers["if-none-match"] ?? null)), {
      params: pathId, query: QrQuery, headers: QrHeaders,
      response: { 200: QrImage, 304: QrNotModified, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      detail: {
        tags: ["urls"],
        summary: "QR code of a link's short URL (SVG, or PNG with format=png), with an ETag for If-None-Match",
      },
    });
}

/**
 * GET /urls/:id/qr: who may see a link's code (the urls service decides, as for GET /urls/:id)
 * and which image answers. The image depends only on the short URL, format and size, so its ETag
 * is known before anything is drawn, and a client that holds it costs no drawing.
 */
import type { Principal } from "../http/auth.ts";
import { ifNoneMatchHits, strongEtag } from "../http/conditional.ts";
import type { UrlRow } from "../db/schema.ts";
import { drawQr, QR_RENDERING } from "./image.ts";
import { QR_MEDIA_TYPE, QR_SIZE_DEFAULT, shortUrlOf, type QrQueryInput, type QrSpec } from "./model.ts";

export type QrAnswer =
  | { kind: "unchanged"; etag: string }
  | { kind: "image"; etag: string; mediaType: string; body: string | Uint8Array };

export function createQrService(deps: { getUrl(principal: Principal, id: number): Promise<UrlRow>; publicOrigin: string }) {
  return {
    /** The link's code as `query` asks, or "unchanged" when `ifNoneMatch` names its ETag; 403/404 as GET /urls/:id. */
    async image(principal: Principal, id: number, query: QrQueryInput, ifNoneMatch: string | null): Promise<QrAnswer> {
      const row = await deps.getUrl(principal, id);
      const spec: QrSpec = { shortUrl: shortUrlOf(deps.publicOrigin, row.shortCode), format: query.format ?? "svg", size: query.size ?? QR_SIZE_DEFAULT };
      const etag = strongEtag(QR_RENDERING, spec.shortUrl, spec.format, String(spec.size));
      if (ifNoneMatchHits(ifNoneMatch, etag)) return { kind: "unchanged", etag };
      return { kind: "image", etag, mediaType: QR_MEDIA_TYPE[spec.format], body: await drawQr(spec) };
    },
  };
}

export type QrService = ReturnType<typeof createQrService>;

/** QR codes of short URLs: the query, the image schemas, and the short URL a code carries. */
import { t, type Static } from "elysia";

/** Width and height in pixels: the default, and the bounds a request may ask for. */
export const QR_SIZE_DEFAULT = 256;
// Below this a short URL's code (version 2-4 plus the quiet zone) gets under 3 px a module, too
// small to scan from a screen; above it a PNG costs an instance more CPU and memory than it helps.
export const QR_SIZE_MIN = 128;
export const QR_SIZE_MAX = 1024;

export type QrFormat = "svg" | "png";

export const QR_MEDIA_TYPE: Record<QrFormat, string> = { svg: "image/svg+xml", png: "image/png" };

export const QrQuery = t.Object({
  // Literals, not t.UnionEnum: Elysia fills an absent UnionEnum query value with its first member.
  format: t.Optional(t.Union([t.Literal("svg"), t.Literal("png")], { description: "svg (the default) or png", error: "format must be svg or png" })),
  size: t.Optional(t.Integer({
    minimum: QR_SIZE_MIN, maximum: QR_SIZE_MAX,
    description: `width and height in pixels, ${QR_SIZE_MIN}..${QR_SIZE_MAX} (default ${QR_SIZE_DEFAULT}); a code that needs more gets more`,
    error: `size must be a whole number of pixels from ${QR_SIZE_MIN} to ${QR_SIZE_MAX}`,
  })),
});
export type QrQueryInput = Static<typeof QrQuery>;

export const QrHeaders = t.Object({
  "if-none-match": t.Optional(t.String({ description: "the ETag of an image you hold (several, comma-separated, or *): 304 while it is still right" })),
});

/** What one image is made from: each part changes the bytes, so each is in the ETag. */
export interface QrSpec {
  shortUrl: string;
  format: QrFormat;
  size: number;
}

/** The link's public address: the configured origin (PUBLIC_URL), a slash, the code. */
export const shortUrlOf = (publicOrigin: string, shortCode: string): string => `${publicOrigin}/${shortCode}`;

const SVG_EXAMPLE = '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 37 37" shape-rendering="crispEdges">'
  + '<path fill="#ffffff" d="M0 0h37v37H0z"/><path stroke="#000000" d="M4 4.5h7m2 0h1…"/></svg>';

/** The 200 answer: one schema per media type (http/openapi-document.ts keeps `contentMediaType`). */
export const QrImage = t.Union([
  t.String({ contentMediaType: QR_MEDIA_TYPE.svg, description: "format=svg (default)", examples: [SVG_EXAMPLE] }),
  t.String({ contentMediaType: QR_MEDIA_TYPE.png, description: "format=png: the PNG's bytes" }),
], {
  description: "a QR code of the link's short URL (PUBLIC_URL + '/' + short_code). ETag names exactly these bytes; "
    + "send it back in If-None-Match for a 304. Cache-Control: private, no-cache (revalidate each time: the key decides who may see it)",
});

/** The 304 answer to a matching If-None-Match. */
export const QrNotModified = t.Void({ description: "If-None-Match named the current ETag: the image you hold is still right" });

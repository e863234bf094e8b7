/**
 * @module What the API reference page (GET /docs) loads, all of it from linkfort itself: the
 * pinned @scalar/api-reference package's browser build, embedded in the binary (`bun build
 * --compile` embeds a `type: "file"` import; `bun run` reads it from node_modules), and the few
 * lines that start it. The Content-Security-Policy allows nothing from any other origin.
 */
// @ts-expect-error TS7016: the package's browser build has no types; a file import is a path.
import scalarScript from "../../../node_modules/@scalar/api-reference/dist/browser/standalone.js" with { type: "file" };

export const DOCS_ASSETS_PATH = "/docs/assets";

/** Path of the reference script: node_modules under `bun run`, the binary's own under --compile. */
export const SCALAR_SCRIPT: string = scalarScript;

/** Starts the reference on the page's #app element with the OpenAPI document at /docs/json. */
export const STARTER_SCRIPT = `Scalar.createApiReference("#app", {
  url: "/docs/json",
  withDefaultFonts: false,
  telemetry: false,
  hideClientButton: false,
  _integration: "elysiajs"
});
`;

/**
 * Scripts, connections, images and fonts from this origin only; inline styles are allowed
 * because the reference sets styles from its script (it runs no inline script).
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The page; `version` in the script's URL, so a cached script never outlives an upgrade. */
export function docsPage(title: string, version: string): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${title} API reference</title>
  </head>
  <body>
    <div id="app"></div>
    <script src="${DOCS_ASSETS_PATH}/api-reference.js?v=${encodeURIComponent(version)}"></script>
    <script src="${DOCS_ASSETS_PATH}/start.js"></script>
  </body>
</html>
`;
}

/**
 * GET /docs (the reference page), its scripts under /docs/assets, and GET /docs/json (the OpenAPI
 * document), public like the probes. The page and its scripts come from the binary (docs-assets.ts)
 * under a Content-Security-Policy that allows no other origin: the plugin's own page loaded the
 * reference from a public CDN at `@latest`, blank offline and whatever that name pointed to online.
 */
import { swagger } from "@elysiajs/swagger";
import { Elysia } from "elysia";
import { DOCS_ASSETS_PATH, DOCS_CSP, SCALAR_SCRIPT, STARTER_SCRIPT, docsPage } from "./docs-assets.ts";
import { normaliseDocument } from "./openapi-document.ts";
import { ErrorBody } from "./openapi.ts";

const SPEC_PATH = "/docs/json";
const PAGE_PATH = "/docs";

const pageHeaders = (type: string) => ({
  "Content-Type": type,
  "Content-Security-Policy": DOCS_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
});

/** Our page and scripts, and the plugin's document made to pass an OpenAPI 3.1 validator (see openapi-document.ts). */
export function openApiDocs(version: string) {
  const page = docsPage("linkfort", version);
  const hidden = { detail: { hide: true } };
  return new Elysia()
    // Registered before the plugin so that they apply to the plugin's routes, and only to them.
    .onAfterHandle(({ route, responseValue }) => (route === SPEC_PATH ? normaliseDocument(responseValue, ErrorBody) : undefined))
    .onAfterHandle(({ route }) => (route === PAGE_PATH ? new Response(page, { headers: pageHeaders("text/html; charset=utf-8") }) : undefined))
    .get(`${DOCS_ASSETS_PATH}/api-reference.js`, () => new Response(Bun.file(SCALAR_SCRIPT), {
      headers: { ...pageHeaders("text/javascript; charset=utf-8"), "Cache-Control": `public, max-age=86400` },
    }), hidden)
    .get(`${DOCS_ASSETS_PATH}/start.js`, () => new Response(STARTER_SCRIPT, { headers: pageHeaders("text/javascript; charset=utf-8") }), hidden)
    .use(swagger({
      path: PAGE_PATH,
      specPath: SPEC_PATH,
      exclude: ["/docs", SPEC_PATH],
      documentation: {
        info: {
          title: "linkfort",
          version,
          description: "Self-hosted URL shortener. Every endpoint except `GET /{short_code}`, /live, /ready, /health and /metrics "
            + "needs `Authorization: Bearer <key>`, unless the server runs with LINKFORT_AUTH=open.",
        },
        components: {
          securitySchemes: {
            bearer: {
              type: "http",
              scheme: "bearer",
              description: "An API key (lf_…) from `linkfort keys create` or POST /admin/keys. Admin keys may do everything; "
                + "user keys only touch their own user, links and events.",
            },
          },
        },
        security: [{ bearer: [] }],
      },
    }));
}

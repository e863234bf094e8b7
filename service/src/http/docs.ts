/** GET /docs (the page) and GET /docs/json (the OpenAPI document), public like the probes. */
import { swagger } from "@elysiajs/swagger";
import { Elysia } from "elysia";
import { normaliseDocument } from "./openapi-document.ts";
import { ErrorBody } from "./openapi.ts";

const SPEC_PATH = "/docs/json";

/** The plugin's page, and its document made to pass an OpenAPI 3.1 validator (see openapi-document.ts). */
export function openApiDocs(version: string) {
  return new Elysia()
    // Registered before the plugin so that it applies to the plugin's routes, and only to them.
    .onAfterHandle(({ route, responseValue }) => (route === SPEC_PATH ? normaliseDocument(responseValue, ErrorBody) : undefined))
    .use(swagger({
      path: "/docs",
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

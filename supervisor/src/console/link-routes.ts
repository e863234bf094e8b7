/**
 * @module The console's links panel on the status server: top links today and search, read
 * through the service with the session's key, and deactivating one (the contract's PUT /urls/:id
 * {"is_active": false}). routes.ts checks the session and renders the answers.
 */
import type { Logger } from "../../../service/src/lib/logger.ts";
import type { ServiceApi } from "./service-api.ts";

export type LinkAnswer = { ok: true; body: unknown } | { ok: false; status: number; message: string };

/** Rows the panel shows; the service allows up to 100. */
const TOP_ROWS = 10;
const SEARCH_ROWS = 20;
const Q_MAX = 200;

export const LINK_GET_PATHS = ["/api/links/top", "/api/links/search"];
export const DEACTIVATE = /^\/api\/links\/(\d{1,10})\/deactivate$/;

export function createLinkActions(opts: { service: Pick<ServiceApi, "topLinks" | "searchLinks" | "deactivateLink">; logger: Logger }) {
  const { service } = opts;
  return {
    /** GET /api/links/top, or /api/links/search?q=… */
    async read(key: string, path: string, url: URL): Promise<LinkAnswer> {
      if (path === "/api/links/top") {
        const top = await service.topLinks(key, TOP_ROWS);
        return top.ok ? { ok: true, body: { links: top.value } } : top;
      }
      const q = url.searchParams.get("q")?.trim() ?? "";
      if (q.length === 0 || q.length > Q_MAX) return { ok: false, status: 400, message: `search for 1 to ${Q_MAX} characters of a short code or a destination URL` };
      const found = await service.searchLinks(key, q, SEARCH_ROWS);
      return found.ok ? { ok: true, body: { q, links: found.value } } : found;
    },

    async deactivate(key: string, id: number): Promise<LinkAnswer> {
      const done = await service.deactivateLink(key, id);
      if (!done.ok) return done;
      opts.logger.info("console link deactivated", { url_id: id, short_code: done.value.short_code });
      return { ok: true, body: { ok: true, detail: `link ${done.value.short_code} deactivated: its code now answers 410` } };
    },
  };
}

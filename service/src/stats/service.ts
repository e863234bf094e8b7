/** Click statistics of one link: who may see them, and for which days. */
import type { Principal } from "../http/auth.ts";
import type { UrlRow } from "../db/schema.ts";
import { dayRange, statsJson, type StatsQueryInput } from "./model.ts";
import type { StatsRepo } from "./repo.ts";

export interface StatsServiceDeps {
  repo: StatsRepo;
  /** The link as GET /urls/:id sees it: 404 unknown, 403 another user's. */
  getUrl: (principal: Principal, id: number) => Promise<UrlRow>;
  now?: () => Date;
}

export function createStatsService(deps: StatsServiceDeps) {
  const now = deps.now ?? (() => new Date());
  return {
    async get(principal: Principal, urlId: number, query: StatsQueryInput): Promise<ReturnType<typeof statsJson>> {
      // Ownership before the range, so a stranger learns nothing from a 400.
      const url = await deps.getUrl(principal, urlId);
      const range = dayRange(query, now());
      return statsJson(url, range, await deps.repo.read(url.id, range, query.include_bots ?? false));
    },
  };
}

export type StatsService = ReturnType<typeof createStatsService>;

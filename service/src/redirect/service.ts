/** Following a short code: where to send the browser, and handing the click off without waiting. */
import { ApiError, notFound } from "../http/errors.ts";
import type { ClickSink } from "../clicks/sink.ts";
import { clickHeader } from "../clicks/model.ts";
import type { CacheSource, ResolveWithSource } from "../cache/cached-resolve.ts";
import { isCodeShaped, locationOf } from "./model.ts";

export interface Visit {
  referrer: string | null;
  userAgent: string | null;
  /** As deps.clientIp resolved it; absent when the caller has none (service tests). */
  clientIp?: string;
  /** A fresh UUIDv7 the caller already made (its request id) to reuse as the click's id. */
  clickId?: string;
  /** false for HEAD: link checkers and chat unfurlers probe links without visiting them. */
  countClick?: boolean;
}

export function createRedirectService(deps: { resolve: ResolveWithSource; clicks: ClickSink }) {
  return {
    /**
     * The Location for an active code (and one click recorded); 404 unknown, 410 inactive.
     * `onSource` learns which tier answered (lru, redis, db), for the X-Cache header.
     */
    async follow(shortCode: string, visit: Visit, onSource?: (source: CacheSource) => void): Promise<string> {
      if (!isCodeShaped(shortCode)) throw notFound(`short code ${JSON.stringify(shortCode.slice(0, 32))} not found`);
      const { resolution: found, source } = await deps.resolve(shortCode);
      onSource?.(source);
      if (found.kind === "missing") throw notFound(`short code ${shortCode} not found`);
      if (found.kind === "inactive") throw new ApiError("gone", `short code ${shortCode} is inactive`);
      if (visit.countClick === false) return locationOf(found.target.originalUrl);
      // Awaited: the stream sink resolves once Redis holds the click, so an answered 302 is never lost.
      await deps.clicks.record({
        // v7: time-ordered, so click receipts append to their primary key's B-tree.
        id: visit.clickId ?? Bun.randomUUIDv7(),
        urlId: found.target.urlId,
        shortCode,
        at: new Date(),
        referrer: clickHeader(visit.referrer),
        userAgent: clickHeader(visit.userAgent),
        clientIp: visit.clientIp,
      });
      return locationOf(found.target.originalUrl);
    },
  };
}

export type RedirectService = ReturnType<typeof createRedirectService>;

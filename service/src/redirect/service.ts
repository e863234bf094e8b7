/**
 * The redirect pipeline: look the code up (lookup.ts), and for an active link hand its click to
 * the sink before the answer goes out. Returns the lookup's value; answer.ts maps it to the
 * response, for the fast path and the Elysia route alike.
 */
import type { ClickSink } from "../clicks/sink.ts";
import type { CappedFollow } from "./click-cap.ts";
import { clickHeader, type Click } from "../clicks/model.ts";
import { expiredAt, type Found, type Lookup, type Outcome } from "./model.ts";

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

/** The click a visit to a found link records: one shape for every link, capped or not. */
export function clickOf(found: Found, shortCode: string, visit: Visit): Click {
  return {
    // v7: time-ordered, so click ids append to their index's B-tree.
    id: visit.clickId ?? Bun.randomUUIDv7(),
    urlId: found.urlId,
    shortCode,
    at: new Date(),
    referrer: clickHeader(visit.referrer),
    userAgent: clickHeader(visit.userAgent),
    clientIp: visit.clientIp,
  };
}

export interface RedirectServiceDeps {
  lookup(shortCode: string): Lookup | Promise<Lookup>;
  clicks: ClickSink;
  /** Links with max_clicks take a slot before their 302 (click-cap.ts); absent: caps are not enforced (service tests). */
  capped?: CappedFollow;
  /** The clock expiry is judged by (epoch ms); tests move it. Default Date.now. */
  now?: () => number;
}

export function createRedirectService(deps: RedirectServiceDeps) {
  const now = deps.now ?? Date.now;
  return {
    /** What `follow` would answer, through the same caches, without recording a click (the preview page). */
    async peek(shortCode: string): Promise<Outcome> {
      const found = await deps.lookup(shortCode);
      if (found.kind !== "found" || found.options === undefined) return found;
      const expired = expiredAt(found, now());
      if (expired !== undefined) return expired;
      const cap = found.options.maxClicks;
      // As a HEAD: reads whether a slot is left, takes none; the 410 or 503 as the redirect's.
      if (cap !== undefined && deps.capped) return deps.capped.follow(found, cap, shortCode, { referrer: null, userAgent: null, countClick: false });
      return found;
    },

    /** What a code-shaped path resolves to; for an active, unexpired link, once its click is recorded. */
    async follow(shortCode: string, visit: Visit): Promise<Outcome> {
      const pending = deps.lookup(shortCode);
      // An LRU hit is a plain value: no await, so no extra turn of the microtask queue.
      const found = pending instanceof Promise ? await pending : pending;
      if (found.kind !== "found") return found;
      // Judged on every answer from the value itself, cached or not: no cache outlives an expiry.
      // A link without options reads no clock.
      const expired = found.options === undefined ? undefined : expiredAt(found, now());
      const cap = found.options?.maxClicks;
      if (cap !== undefined && expired === undefined && deps.capped) return deps.capped.follow(found, cap, shortCode, visit);
      if (expired !== undefined || visit.countClick === false) return expired ?? found;
      // Awaited: the sink resolves once the click is kept, so an answered 302 is never lost.
      await deps.clicks.record(clickOf(found, shortCode, visit));
      return found;
    },
  };
}

export type RedirectService = ReturnType<typeof createRedirectService>;

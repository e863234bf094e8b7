/** The admin side of bans: list them and lift one (PostgreSQL, then both stores). */
import { requireAdmin, type Principal } from "../http/auth.ts";
import { notFound } from "../http/errors.ts";
import type { BanRow } from "../db/schema.ts";
import type { BansRepo } from "./repo.ts";
import type { Limits } from "./service.ts";

// How far back `include_lifted` looks: enough for "who did we let go this week".
const RECENT_MS = 7 * 86_400_000;

export function createBansService(repo: BansRepo, limits: Limits | undefined, now: () => number) {
  return {
    list(principal: Principal, includeLifted: boolean): Promise<BanRow[]> {
      requireAdmin(principal);
      const at = now();
      return repo.list(new Date(at), includeLifted ? new Date(at - RECENT_MS) : undefined);
    },

    /** Idempotent like revoking a key: lifting a lifted ban succeeds; an unknown id is 404. */
    async lift(principal: Principal, id: number): Promise<BanRow> {
      requireAdmin(principal);
      const row = await repo.lift(id, new Date(now()));
      if (!row) throw notFound(`ban ${id} not found`);
      // Its id too: a sync that read this ban as active just before must not copy it back.
      await limits?.forget(row.kind, row.subject, row.id);
      return row;
    },
  };
}

export type BansService = ReturnType<typeof createBansService>;

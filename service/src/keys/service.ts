/**
 * The rules for API keys: authenticating a request, creating, listing and revoking keys, and
 * the bootstrap admin key of a fresh database. No cache in front of the lookup: several
 * instances serve the same keys, and one indexed query per request makes a revoke take effect
 * on the very next request everywhere.
 */
import { badRequest, notFound, unauthorized } from "../http/errors.ts";
import { requireAdmin, type Principal } from "../http/auth.ts";
import type { ApiKeyRow } from "../db/schema.ts";
import type { Logger } from "../lib/logger.ts";
import type { CreateKeyInput } from "./model.ts";
import type { KeyLookup, KeysRepo } from "./repo.ts";
import { displayPrefix, generateKey, hashKey, parseBearer } from "./secret.ts";

/** `last_used_at` is written at most this often per key (ms). */
export const TOUCH_INTERVAL_MS = 60_000;
// Bounds the throttle's memory; forgetting only costs one extra (conditional) UPDATE per key.
const TOUCH_MEMORY_MAX = 10_000;

export interface KeysServiceOptions {
  logger: Logger;
  /** Milliseconds since the epoch; tests move it instead of waiting. Default Date.now. */
  now?: () => number;
}

export interface CreatedKey {
  row: ApiKeyRow;
  /** The plaintext key; it exists only here and in the one response that hands it out. */
  key: string;
}

export function createKeysService(repo: KeysRepo, opts: KeysServiceOptions) {
  const now = opts.now ?? Date.now;
  const lastTouch = new Map<number, number>();
  const pending = new Set<Promise<void>>();

  /** Fire-and-forget: the request never waits for, or fails because of, this write. */
  function noteUse(row: KeyLookup): void {
    const at = now();
    const previous = Math.max(lastTouch.get(row.id) ?? -Infinity, row.lastUsedAt?.getTime() ?? -Infinity);
    if (at - previous < TOUCH_INTERVAL_MS) return;
    if (lastTouch.size >= TOUCH_MEMORY_MAX) lastTouch.clear();
    lastTouch.set(row.id, at);
    const write = repo.touch(row.id)
      .catch((error: unknown) => opts.logger.warn("api key last_used_at update failed", { key_id: row.id, error }))
      .finally(() => pending.delete(write));
    pending.add(write);
  }

  function principalOf(row: KeyLookup): Principal {
    if (row.scope === "admin") return { role: "admin", keyId: row.id };
    // A user key always has a user (the foreign key cascades); a hand-made row without one grants nothing.
    if (row.scope === "user" && row.userId !== null) return { role: "user", keyId: row.id, userId: row.userId };
    throw unauthorized("API key is not usable: it has no valid scope");
  }

  /** Implements `Authenticator`: the header → one indexed lookup → a principal, or a 401. */
  async function authenticate(authorization: string | undefined): Promise<Principal> {
    const row = await repo.findByHash(hashKey(parseBearer(authorization)));
    if (!row) throw unauthorized("unknown API key");
    // Saying "revoked" tells the holder of the key nothing they could misuse, and saves a support ticket.
    if (row.revokedAt) throw unauthorized("API key has been revoked");
    const principal = principalOf(row);
    noteUse(row);
    return principal;
  }

  return {
    authenticate,

    async create(principal: Principal, input: CreateKeyInput): Promise<CreatedKey> {
      requireAdmin(principal);
      if (input.scope === "user" && input.user_id === undefined) {
        throw badRequest("body field 'user_id': required for a user-scoped key", { fields: [{ field: "user_id", message: "required when scope is user" }] });
      }
      if (input.scope === "admin" && input.user_id !== undefined) {
        throw badRequest("body field 'user_id': not allowed for an admin key", { fields: [{ field: "user_id", message: "must be absent when scope is admin" }] });
      }
      const key = generateKey();
      const row = await repo.insert({
        name: input.name, scope: input.scope, userId: input.user_id ?? null, prefix: displayPrefix(key), hash: hashKey(key),
      });
      if (!row) throw notFound(`user ${input.user_id} not found`);
      return { row, key };
    },

    list(principal: Principal): Promise<ApiKeyRow[]> {
      requireAdmin(principal);
      return repo.list();
    },

    /**
     * Revoking an already revoked key is an idempotent success that keeps the first revoked_at:
     * a retried DELETE (timeout, double click, script re-run) has reached its goal, the key does
     * not work. Only an id that never existed is 404.
     */
    async revoke(principal: Principal, id: number): Promise<ApiKeyRow> {
      requireAdmin(principal);
      const row = await repo.revoke(id);
      if (!row) throw notFound(`API key ${id} not found`);
      lastTouch.delete(id);
      return row;
    },

    /**
     * On a database that never had an admin key (revoked ones count), creates one and returns its
     * plaintext (the caller prints it once, never into a log record); otherwise undefined. After
     * revoking them all, an operator makes the next with `linkfort keys create`. Safe when many
     * instances start at once.
     */
    async ensureBootstrapAdminKey(): Promise<string | undefined> {
      const key = generateKey();
      const row = await repo.insertAdminIfNone({ name: "bootstrap admin", prefix: displayPrefix(key), hash: hashKey(key) });
      return row ? key : undefined;
    },

    /** Waits for in-flight last_used_at writes (tests, and shutdown before the pool closes). */
    async settle(): Promise<void> {
      await Promise.all([...pending]);
    },
  };
}

export type KeysService = ReturnType<typeof createKeysService>;

/**
 * @module The console's calls to the service, made with the operator's own admin key (their
 * session's): whether a key is an admin key, the rate-limit bans and lifting one, links at a
 * glance (top today, search) and deactivating one. Straight to
 * the instances on their own ports, the first that answers; the service keeps the rules.
 */
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";

export type KeyCheck = "admin" | "refused" | "unavailable";

/** The fields of GET /admin/bans the console shows (service/src/limits/model.ts has them all). */
const Ban = Type.Object({
  id: Type.Number(),
  subject: Type.String(),
  kind: Type.String(),
  level: Type.String(),
  reason: Type.String(),
  until: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
});
const Bans = Type.Array(Ban);
export type BanView = Static<typeof Ban>;

/** The fields of GET /admin/links/top and /search the console shows (service/src/admin-links/model.ts). */
const Link = Type.Object({
  id: Type.Number(),
  short_code: Type.String(),
  original_url: Type.String(),
  title: Type.Union([Type.String(), Type.Null()]),
  is_active: Type.Boolean(),
  clicks_today: Type.Number(),
  bot_clicks_today: Type.Number(),
});
const FoundLink = Type.Composite([Link, Type.Object({ match: Type.String() })]);
export type LinkView = Static<typeof Link>;
export type FoundLinkView = Static<typeof FoundLink>;
/** What PUT /urls/:id answers, as far as the console reads it. */
const UpdatedLink = Type.Object({ id: Type.Number(), short_code: Type.String(), is_active: Type.Boolean() });

export type ServiceResult<T> = { ok: true; value: T } | { ok: false; status: number; message: string };

const UNAVAILABLE = { ok: false, status: 503, message: "no instance answered; try again when one is ready" } as const;

export type ServiceApi = ReturnType<typeof createServiceApi>;

/** `instanceUrl(port, path)` for each of `ports`. */
export function createServiceApi(ports: number[], instanceUrl: (port: number, path: string) => string) {
  const call = async (key: string, method: string, path: string, body?: unknown): Promise<Response | null> => {
    for (const port of ports) {
      // A DELETE goes with "{}": Bun's fetch sends Content-Length: 0 on a bodiless DELETE, and the
      // service's body check (service/src/app.ts, onParse) refuses that as a body of no type.
      const sent = method === "DELETE" ? {} : body;
      const init: RequestInit = sent !== undefined
        ? { method, headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" }, body: JSON.stringify(sent) }
        : { method, headers: { Authorization: `Bearer ${key}` } };
      const res = await fetch(instanceUrl(port, path), { ...init, signal: AbortSignal.timeout(3_000) }).catch(() => null);
      if (res) return res;
    }
    return null;
  };
  const failure = async (res: Response): Promise<{ ok: false; status: number; message: string }> => {
    const body = (await res.json().catch(() => ({}))) as { message?: unknown };
    return { ok: false, status: res.status, message: typeof body.message === "string" ? body.message : `the service answered ${res.status}` };
  };

  /** A 200 whose JSON must be `schema`; only its fields are kept. */
  const read = async <T extends TSchema>(res: Response | null, schema: T, what: string): Promise<ServiceResult<Static<T>>> => {
    if (!res) return UNAVAILABLE;
    if (res.status !== 200) return failure(res);
    const body: unknown = await res.json().catch(() => undefined);
    if (!Value.Check(schema, body)) return { ok: false, status: 502, message: `the service's ${what} has an unexpected shape` };
    return { ok: true, value: Value.Clean(schema, structuredClone(body)) as Static<T> };
  };

  return {
    async checkAdminKey(key: string): Promise<KeyCheck> {
      const res = await call(key, "GET", "/admin/keys");
      await res?.body?.cancel();
      return !res ? "unavailable" : res.status === 200 ? "admin" : res.status === 401 || res.status === 403 ? "refused" : "unavailable";
    },
    async bans(key: string): Promise<ServiceResult<BanView[]>> {
      const res = await call(key, "GET", "/admin/bans");
      if (!res) return UNAVAILABLE;
      if (res.status !== 200) return failure(res);
      const body: unknown = await res.json();
      if (!Value.Check(Bans, body)) return { ok: false, status: 502, message: "the service's ban list has an unexpected shape" };
      return { ok: true, value: body.map((b) => Value.Clean(Ban, structuredClone(b)) as BanView) };
    },
    async liftBan(key: string, id: number): Promise<ServiceResult<null>> {
      const res = await call(key, "DELETE", `/admin/bans/${id}`);
      if (!res) return UNAVAILABLE;
      if (res.status !== 204) return failure(res);
      return { ok: true, value: null };
    },
    topLinks: async (key: string, limit: number) => read(await call(key, "GET", `/admin/links/top?limit=${limit}`), Type.Array(Link), "top links"),
    searchLinks: async (key: string, q: string, limit: number) =>
      read(await call(key, "GET", `/admin/links/search?${new URLSearchParams({ q, limit: String(limit) })}`), Type.Array(FoundLink), "link search"),
    /** The contract's way: PUT /urls/:id {"is_active": false}; the code then answers 410. */
    deactivateLink: async (key: string, id: number) => read(await call(key, "PUT", `/urls/${id}`, { is_active: false }), UpdatedLink, "updated link"),
  };
}

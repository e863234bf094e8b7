/**
 * @module The console's calls to the service, made with the operator's own admin key (their
 * session's): whether a key is an admin key, the rate-limit bans and lifting one. Straight to
 * the instances on their own ports, the first that answers; the service keeps the rules.
 */
import { Type, type Static } from "@sinclair/typebox";
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

export type ServiceResult<T> = { ok: true; value: T } | { ok: false; status: number; message: string };

const UNAVAILABLE = { ok: false, status: 503, message: "no instance answered; try again when one is ready" } as const;

export type ServiceApi = ReturnType<typeof createServiceApi>;

/** `instanceUrl(port, path)` for each of `ports`. */
export function createServiceApi(ports: number[], instanceUrl: (port: number, path: string) => string) {
  const call = async (key: string, method: string, path: string): Promise<Response | null> => {
    for (const port of ports) {
      // A DELETE goes with "{}": Bun's fetch sends Content-Length: 0 on a bodiless DELETE, and the
      // service's body check (service/src/app.ts, onParse) refuses that as a body of no type.
      const init: RequestInit = method === "DELETE"
        ? { method, headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" }, body: "{}" }
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
  };
}

/**
 * Entries of the Redis click stream that releases before the click spool wrote (`lf:clicks`):
 * one field `k` holding [id, urlId, code, at ms, referrer, agent, ip], or, in older releases,
 * a field per property. Read only by the one-shot drain (drain-stream.ts).
 */
import type { Click } from "./model.ts";

const FIELD = "k";
const UUID = /^[0-9a-f-]{36}$/i;
const optional = (value: unknown) => (typeof value === "string" ? value : undefined);

function checked(id: unknown, urlId: number, code: unknown, atMs: number, rest: Pick<Click, "referrer" | "userAgent" | "clientIp">): Click | undefined {
  const at = new Date(atMs);
  if (typeof id !== "string" || !UUID.test(id) || !Number.isInteger(urlId) || urlId < 1 || typeof code !== "string" || !code || Number.isNaN(at.getTime())) return undefined;
  return { id, urlId, shortCode: code, at, ...rest };
}

/** A stream entry's flat field list back into a click; undefined for an entry linkfort did not write. */
export function parseStreamEntry(flat: readonly string[]): Click | undefined {
  if (flat.length === 2 && flat[0] === FIELD) {
    let v: unknown;
    try { v = JSON.parse(flat[1]!); } catch { return undefined; }
    if (!Array.isArray(v) || v.length !== 7) return undefined;
    return checked(v[0], Number(v[1]), v[2], Number(v[3]), { referrer: optional(v[4]), userAgent: optional(v[5]), clientIp: optional(v[6]) });
  }
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
  return checked(m.get("id"), Number(m.get("u")), m.get("c"), Number(m.get("t")), { referrer: m.get("r"), userAgent: m.get("a"), clientIp: m.get("ip") });
}
